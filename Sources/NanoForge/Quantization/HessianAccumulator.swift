import NanoQuant
import NanoTensor

/// Accumulates the GPTQ Hessian of a linear layer's reconstruction error from calibration
/// inputs: H = 2·XᵀX / n over all n rows seen (Frantar et al. 2022, eq. 1: the Hessian of
/// ‖XWᵀ − XŴᵀ‖² per output row, averaged over the rows).
///
/// Each batch's XᵀX is one GEMM in Float, and the batches are summed in Float too: a decoder holds
/// one such [in, in] sum per layer at once (SmolLM2-135M: 0.40 GB in Float, twice that in Double),
/// and a calibration set of tens of batches loses ~1e-6 relative to Double summation, far below
/// GPTQ's damping. Layers that share an input (query, key, value) share one accumulator.
public struct HessianAccumulator: Sendable {
    /// The layer's input width (`in`).
    public let columns: Int
    /// Calibration rows seen so far.
    public private(set) var rows: Int = 0
    /// Σ XᵀX, [in, in] row-major.
    var sum: [Float]

    public init(columns: Int) {
        precondition(columns > 0, "HessianAccumulator: columns must be positive")
        self.columns = columns
        self.sum = [Float](repeating: 0, count: columns * columns)
    }

    /// Adds a batch of inputs [..., in] (every leading axis counts as rows: [batch, seq, in] works).
    public mutating func add(_ x: Tensor) throws {
        guard x.rank >= 1, x.shape[x.rank - 1] == columns else {
            throw QuantizationError.calibrationWidthMismatch(expected: columns, found: x.shape.last ?? 0)
        }
        let n = x.count / columns
        guard n > 0 else { return }
        // x2: [n, in]; gram: [in, in] = x2ᵀ·x2.
        let x2 = x.reshaped([n, columns])
        let gram = Tensor.matmul(x2, x2, transposeA: true)
        gram.scalars.withUnsafeBufferPointer { g in
            sum.withUnsafeMutableBufferPointer { s in
                for i in s.indices { s[i] += g[i] }
            }
        }
        rows += n
    }

    /// Merges another accumulator's rows into this one (e.g. from parallel calibration shards).
    public mutating func merge(_ other: HessianAccumulator) {
        precondition(other.columns == columns, "HessianAccumulator.merge: widths \(columns) and \(other.columns) differ")
        for i in sum.indices { sum[i] += other.sum[i] }
        rows += other.rows
    }

    /// H = 2·XᵀX / n, [in, in] row-major.
    public func hessian() throws -> [Double] {
        guard rows > 0 else { throw QuantizationError.noCalibrationData }
        let factor = 2 / Double(rows)
        return sum.map { Double($0) * factor }
    }
}
