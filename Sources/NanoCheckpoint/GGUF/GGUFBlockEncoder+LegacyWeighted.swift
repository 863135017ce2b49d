/// ggml's 32-element blocks under an importance matrix, encoded as `quantize_row_q4_0_impl` …
/// `quantize_row_q5_1_impl` (ggml-quants.c) do when `ggml_quantize_chunk` is given quant_weights.
///
/// Each element's weight is qw[column] · √(σ² + x²), σ² the mean of x² over the whole row (so a
/// row is the unit of work, not a block). The symmetric types (Q4_0, Q5_0) take the scale from
/// `make_qx_quants` with those weights; the offset types (Q4_1, Q5_1) take scale and min from
/// `make_qkx3_quants` (−0.9 + 0.05·k, 37 trial scales). Scale and min are stored rounded to f16
/// but the codes are the search's, found with the unrounded values (unlike the K-quants, there is
/// no requantization). Q8_0 ignores the importance matrix in ggml, and so here.
extension GGUFBlockEncoder {
    /// One row of `n` values as Q4_0, Q4_1, Q5_0 or Q5_1 weighted by the row's importance `qw`;
    /// `rowMeanSquare` replaces σ² when the `n` values are only part of the row.
    static func encodeLegacyWeightedRow(_ x: UnsafePointer<Float>, _ n: Int, _ type: GGUFTensorType,
                                        _ qw: UnsafePointer<Float>, _ out: UnsafeMutablePointer<UInt8>,
                                        rowMeanSquare: Float? = nil) {
        var sumX2: Float = 0
        for j in 0..<n { sumX2 += x[j] * x[j] }
        let sigma2 = rowMeanSquare ?? sumX2 / Float(n)
        let weight = Scratch<Float>(32), L = Scratch<UInt8>(32), Laux = Scratch<UInt8>(32)
        defer { weight.free(); L.free(); Laux.free() }
        for ib in 0..<(n / 32) {
            let xb = x + 32 * ib, qwb = qw + 32 * ib, y = out + type.typeSize * ib
            for j in 0..<32 { weight[j] = qwb[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
            switch type {
            case .q4_0, .q5_0:
                let nmax: Int32 = type == .q4_0 ? 8 : 16
                let d = L.p.withMemoryRebound(to: Int8.self, capacity: 32) { makeQXQuants(32, nmax, xb, $0, weight.p) }
                storeF16(d, y)
                if type == .q4_0 { packNibbles(L.p, y + 2) } else { packFiveBits(L.p, y + 6, qh: y + 2) }
            case .q4_1, .q5_1:
                let nmax: Int32 = type == .q4_1 ? 15 : 31
                var min: Float = 0
                let d = makeQKX2Quants(32, nmax, xb, weight.p, L.p, &min, Laux.p, rmin: -0.9, rdelta: 0.05, nstep: 36, useMAD: false)
                storeF16(d, y)
                storeF16(-min, y + 2)
                if type == .q4_1 { packNibbles(L.p, y + 4) } else { packFiveBits(L.p, y + 8, qh: y + 4) }
            default:
                preconditionFailure("encodeLegacyWeightedRow: \(type)")
            }
        }
    }

    /// 32 4-bit codes as the `_0`/`_1` types store them: element j in the low nibble of byte j,
    /// element j + 16 in its high nibble.
    @inline(__always) private static func packNibbles(_ L: UnsafePointer<UInt8>, _ qs: UnsafeMutablePointer<UInt8>) {
        for j in 0..<16 { qs[j] = L[j] | L[j + 16] << 4 }
    }

    /// 32 5-bit codes as Q5_0 / Q5_1 store them: the low nibbles as `packNibbles`, the fifth bits
    /// in a little-endian uint32 (bit j for element j).
    @inline(__always) private static func packFiveBits(_ L: UnsafePointer<UInt8>, _ qs: UnsafeMutablePointer<UInt8>,
                                                       qh qhp: UnsafeMutablePointer<UInt8>) {
        var qh: UInt32 = 0
        for j in 0..<16 {
            let low = L[j], high = L[j + 16]
            qs[j] = (low & 0x0F) | (high & 0x0F) << 4
            qh |= UInt32((low & 0x10) >> 4) << UInt32(j) | UInt32((high & 0x10) >> 4) << UInt32(j + 16)
        }
        storeUInt32(qh, qhp)
    }
}
