import CBLAS
import Dispatch
import NanoQuant
import NanoTensor

/// GPTQ weight quantization (Frantar, Ashkboos, Hoefler, Alistarh 2022, "GPTQ: Accurate
/// Post-Training Quantization for Generative Pre-trained Transformers", Algorithm 1).
///
/// Columns are quantized one at a time; each column's rounding error, divided by the diagonal of
/// the upper Cholesky factor U of H⁻¹, is spread onto the columns not yet quantized through that
/// factor's row, which minimizes the layer's output error ‖XWᵀ − XŴᵀ‖² given H = 2·XᵀX/n.
/// As in the reference implementation:
/// - dead inputs (diag H = 0) get H_ii = 1 and a zero weight column;
/// - H is damped by `dampingFraction` · mean(diag H) (raised ×10, up to 3 times, if the
///   factorization still fails);
/// - errors are applied inside a block of `blockSize` columns at once and to the rest of the
///   matrix lazily, with one GEMM per block;
/// - with `activationOrder`, columns are processed by descending diag H and codes are written
///   back in the original order;
/// - per-channel and per-tensor parameters come from the whole (dead-zeroed) weight up front;
///   group parameters are computed when the group's first column is reached, from its current
///   error-compensated values. The effective block size is rounded to a multiple of the group
///   size (or raised to it) so a group never straddles a block and those values are exact.
/// Weights that are exactly zero on entry (pruned) stay exactly zero: their code is the slice's
/// zero point and their whole value counts as rounding error, which the remaining columns
/// compensate (SparseGPT's treatment of a fixed mask), so a prune-then-quantize recipe keeps its
/// sparsity.
/// Deviation: with `activationOrder` and groups, groups stay runs of consecutive *original*
/// columns and their parameters are computed up front from the original weight (AutoGPTQ's
/// `static_groups`), so the packed layout needs no per-column group index.
/// The column loop (`Problem.compensate`) is shared by every grid: nanoforge's integer grids
/// here, ggml's block formats in `GPTQ+GGML.swift`.
public enum GPTQ {
    /// GPTQ's options; the scheme and observer are those of RTN.
    public struct Configuration: Equatable, Codable, Sendable {
        public var scheme: QuantizationScheme
        public var observer: Observer
        public var dampingFraction: Double
        public var blockSize: Int
        public var activationOrder: Bool
        public var scaleFormat: ScaleFormat

        public init(scheme: QuantizationScheme, observer: Observer = .minmax, dampingFraction: Double = 0.01,
                    blockSize: Int = 128, activationOrder: Bool = false, scaleFormat: ScaleFormat = .float32) {
            self.scheme = scheme
            self.observer = observer
            self.dampingFraction = dampingFraction
            self.blockSize = blockSize
            self.activationOrder = activationOrder
            self.scaleFormat = scaleFormat
        }

        public func validate(forWeightShape shape: [Int]) throws {
            try scheme.validate(forWeightShape: shape)
            try observer.validate()
            guard dampingFraction.isFinite, dampingFraction >= 0 else {
                throw QuantizationError.invalidDamping(found: dampingFraction)
            }
            guard blockSize > 0 else { throw QuantizationError.nonPositiveBlockSize(found: blockSize) }
        }
    }

    /// Quantizes a weight [out, in] against the Hessian of its calibration inputs.
    public static func quantize(_ weight: Tensor, hessian accumulator: HessianAccumulator,
                                configuration c: Configuration) throws -> QuantizedTensor {
        try c.validate(forWeightShape: weight.shape)
        var problem = try Problem(weight, hessian: accumulator, activationOrder: c.activationOrder, dampingFraction: c.dampingFraction)
        let (rows, columns) = (problem.rows, problem.columns)

        let scheme = c.scheme
        let groupWidth = scheme.groupWidth(columns: columns)
        let dynamicGroups: Bool
        if case .group = scheme.granularity { dynamicGroups = !c.activationOrder } else { dynamicGroups = false }
        var parameters = dynamicGroups
            ? [QuantizationParameters](repeating: QuantizationParameters(scale: 1), count: scheme.scaleCount(rows: rows, columns: columns))
            : RTN.sliceParameters(problem.weight, scheme: scheme, observer: c.observer, scaleFormat: c.scaleFormat)

        let qmin = QuantizationNumerics.qmin(bits: scheme.bits, symmetric: scheme.symmetric)
        let qmax = QuantizationNumerics.qmax(bits: scheme.bits, symmetric: scheme.symmetric)
        var codes = [Int32](repeating: 0, count: rows * columns)
        let order = problem.order, pruned = problem.pruned
        codes.withUnsafeMutableBufferPointer { q in
        parameters.withUnsafeMutableBufferPointer { params in
            problem.compensate(blockSize: c.blockSize, alignedTo: dynamicGroups ? groupWidth : nil) { r, i, row in
                let column = order[i]
                let s = scheme.scaleIndex(row: r, column: column, columns: columns)
                if dynamicGroups && i % groupWidth == 0 {
                    params[s] = c.observer.parameters(
                        for: UnsafeBufferPointer(start: row + i, count: groupWidth), bits: scheme.bits,
                        symmetric: scheme.symmetric, scaleFormat: c.scaleFormat)
                }
                let code = pruned[r * columns + column]
                    ? params[s].zeroPoint : QuantizationNumerics.quantize(row[i], params[s], qmin: qmin, qmax: qmax)
                q[r * columns + column] = code
                return QuantizationNumerics.dequantize(code, params[s])
            }
        }}
        return try QuantizedTensor(shape: weight.shape, scheme: scheme, codes: codes,
                                   parameters: parameters, scaleFormat: c.scaleFormat)
    }

    /// One layer's GPTQ problem, ready for the column loop: the weight with dead inputs zeroed,
    /// the processing order, and the Cholesky factor U of the damped H⁻¹ in that order. Shared
    /// by every grid (nanoforge's integer grids, ggml's block formats); only how a column is
    /// rounded differs.
    struct Problem {
        let rows: Int
        let columns: Int
        /// The weight [out, in] in original column order, dead inputs set to 0.
        let weight: Tensor
        /// Entries that were exactly zero on entry (pruned).
        let pruned: [Bool]
        /// Column `order[i]` of the original weight is quantized i-th.
        let order: [Int]
        /// U [in, in] in processing order.
        let u: [Float]
        /// The weight in processing order, [out, in]; the loop updates it in place.
        var working: [Float]

        init(_ weight: Tensor, hessian accumulator: HessianAccumulator, activationOrder: Bool, dampingFraction: Double) throws {
            guard weight.shape.count == 2, weight.shape[0] > 0, weight.shape[1] > 0 else {
                throw QuantizationError.notAMatrix(shape: weight.shape)
            }
            guard weight.scalars.allSatisfy(\.isFinite) else { throw QuantizationError.nonFiniteWeight }
            guard dampingFraction.isFinite, dampingFraction >= 0 else { throw QuantizationError.invalidDamping(found: dampingFraction) }
            let (rows, columns) = (weight.shape[0], weight.shape[1])
            guard accumulator.columns == columns else {
                throw QuantizationError.calibrationWidthMismatch(expected: columns, found: accumulator.columns)
            }
            var h = try accumulator.hessian()
            var w = weight
            pruned = weight.scalars.map { $0 == 0 }
            // Dead inputs never contribute to the output: any code will do, so make them exactly 0.
            for i in 0..<columns where h[i * columns + i] == 0 {
                h[i * columns + i] = 1
                for r in 0..<rows { w.scalars[r * columns + i] = 0 }
            }
            let order: [Int] = activationOrder
                ? (0..<columns).sorted { (h[$0 * columns + $0], $1) > (h[$1 * columns + $1], $0) }
                : Array(0..<columns)
            u = try GPTQ.factor(h, order: order, n: columns, dampingFraction: dampingFraction)
            var wp = [Float](repeating: 0, count: rows * columns)
            for r in 0..<rows { for i in 0..<columns { wp[r * columns + i] = w.scalars[r * columns + order[i]] } }
            (self.rows, self.columns, self.weight, self.order, self.working) = (rows, columns, w, order, wp)
        }

        /// Rounds column i (processing order) of row r: given the row's current values in
        /// processing order, records the code it chooses and returns its dequantized value.
        /// Called for every row and column once, rows in parallel (never one row from two threads).
        typealias ColumnQuantizer = (_ row: Int, _ position: Int, _ values: UnsafeMutablePointer<Float>) -> Float

        /// GPTQ's column loop: each column is rounded by `quantize`, and its error, divided by
        /// U_ii, is spread over the later columns of its block at once and over the rest with one
        /// GEMM per block. With `alignedTo: g`, the block size becomes a multiple of g (or g
        /// itself) so that a run of g columns never straddles two blocks: at its first column,
        /// the run's values are then exactly the error-compensated ones.
        mutating func compensate(blockSize requested: Int, alignedTo g: Int?, quantize: ColumnQuantizer) {
            var block = requested
            if let g { block = g % block == 0 ? block : (g < block ? block - block % g : g) }
            let (rows, columns) = (self.rows, self.columns)
            // errors: [out, block], column i of the block holds (w - ŵ) / U_ii of processed column i.
            var errors = [Float](repeating: 0, count: rows * block)
            BLASThreads.ensureSingleThreaded()
            working.withUnsafeMutableBufferPointer { wpb in
            errors.withUnsafeMutableBufferPointer { e in
            u.withUnsafeBufferPointer { ub in
                guard let wBase = wpb.baseAddress, let eBase = e.baseAddress, let uBase = ub.baseAddress else { return }
                for i1 in stride(from: 0, to: columns, by: block) {
                    let i2 = min(i1 + block, columns)
                    // Rows are independent within a block: split them across the cores.
                    Parallel.forRanges(rows, grain: 32) { rowRange in
                        for r in rowRange {
                            let row = wBase + r * columns
                            let err = eBase + r * block
                            for i in i1..<i2 {
                                let value = row[i]
                                let delta = (value - quantize(r, i, row)) / uBase[i * columns + i]
                                err[i - i1] = delta
                                let coefficients = uBase + i * columns
                                for j in (i + 1)..<i2 { row[j] -= delta * coefficients[j] }
                            }
                        }
                    }
                    // Lazy batch update: W[:, i2:] -= E[:, :count] · U[i1..<i2, i2...] (split by rows).
                    guard i2 < columns else { break }
                    let count = i2 - i1, rest = columns - i2
                    let chunks = rows * rest * count >= 1 << 20 ? max(1, min(Parallel.workers, rows / 64)) : 1
                    let chunk = (rows + chunks - 1) / chunks
                    Parallel.perform(iterations: chunks) { k in
                        let start = k * chunk, m = min(chunk, rows - start)
                        guard m > 0 else { return }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(rest), Int32(count),
                                    -1, eBase + start * block, Int32(block), uBase + i1 * columns + i2, Int32(columns),
                                    1, wBase + start * columns + i2, Int32(columns))
                    }
                }
            }}}
        }
    }

    /// U (upper Cholesky factor of the damped, permuted H⁻¹) as Float [n, n].
    static func factor(_ h: [Double], order: [Int], n: Int, dampingFraction: Double) throws -> [Float] {
        var permuted = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { permuted[i * n + j] = h[order[i] * n + order[j]] } }
        let meanDiagonal = (0..<n).reduce(0) { $0 + permuted[$1 * n + $1] } / Double(n)
        var fraction = dampingFraction
        for _ in 0..<4 {
            var damped = permuted
            for i in 0..<n { damped[i * n + i] += fraction * meanDiagonal }
            if let u = CholeskyInverse.upperFactorOfInverse(damped, n: n) { return u.map { Float($0) } }
            fraction = max(fraction * 10, 1e-6)
        }
        throw QuantizationError.hessianNotPositiveDefinite(columns: n)
    }
}
