import NanoTensor

extension QuantizationNumerics {
    /// Dynamic activation quantization, fake: each row of `t` (the last axis: one token's
    /// features) on its own symmetric `bits` grid, scale = absmax(row) / qmax (1 for an all-zero
    /// row, `parameters(min:max:)`), then back to float.
    ///
    /// The codes are those `Int8GEMM.quantizeActivations` computes at run time — the same scale,
    /// x · (1 / scale) by a reciprocal multiply (not a division, which can round a tie the other
    /// way), ties to even, clamped to ±qmax — so the float GEMM on these values and the integer
    /// GEMM on the codes differ only in summation order.
    public static func fakeQuantizePerRow(_ t: Tensor, bits: Int) -> Tensor {
        guard let columns = t.shape.last, columns > 0, t.count > 0 else { return t }
        let lo = Float(qmin(bits: bits, symmetric: true)), hi = Float(qmax(bits: bits, symmetric: true))
        var out = t
        out.scalars.withUnsafeMutableBufferPointer { buffer in
            for start in stride(from: 0, to: buffer.count, by: columns) {
                let row = buffer.baseAddress! + start
                var absmax: Float = 0
                for c in 0..<columns { absmax = Swift.max(absmax, abs(row[c])) }
                let p = parameters(min: -absmax, max: absmax, bits: bits, symmetric: true)
                let inverse = 1 / p.scale
                for c in 0..<columns {
                    let q = Swift.min(Swift.max((row[c] * inverse).rounded(.toNearestOrEven), lo), hi)
                    row[c] = q * p.scale
                }
            }
        }
        return out
    }
}
