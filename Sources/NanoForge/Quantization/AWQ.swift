import Foundation
import NanoCheckpoint
import NanoQuant
import NanoTensor

/// Activation-aware weight quantization's scale search (Lin et al. 2024, "AWQ"), in the form
/// llm-compressor's `AWQModifier` computes it: for the Linear layers that share one input X
/// (a smoothing group's consumers), per-channel scales s = mean|x|^α (optionally divided by the
/// weights' own mean relative magnitude to the power 1 − α, `duoScaling`), normalised by
/// √(max·min) and clamped, with α chosen on a grid to minimise the consumers' output error
///
///     E(s) = Σ_consumers ‖X Wᵀ − (X / s) Q(W · s)ᵀ‖²
///
/// where Q is the weight quantizer that will follow. Salient input channels (large |x|) get
/// s > 1, so their weights are quantized on a relatively finer grid.
///
/// E is computed exactly over every calibration row through the Gram matrix G = XᵀX: with
/// Ŵ = Q(W·diag s)·diag(1/s) and D = W − Ŵ, E = Σ_r d_r G d_rᵀ. Memory is then the Gram matrix
/// (in² floats per group), whatever the number of calibration tokens.
public enum AWQ {
    /// The weight quantizer the search simulates (round to nearest, min/max ranges).
    public enum Quantizer: Equatable, Sendable, CustomStringConvertible {
        /// One of nanoforge's integer schemes (`RTN.quantize`).
        case integer(QuantizationScheme)
        /// A ggml block type, by ggml's own round to nearest (`GGMLQuantizedTensor.roundToNearest`).
        case ggml(GGUFTensorType)

        /// Q(w), dequantized.
        public func roundTrip(_ weight: Tensor) throws -> Tensor {
            switch self {
            case .integer(let scheme): return try RTN.quantize(weight, scheme: scheme).dequantized()
            case .ggml(let type): return try GGMLQuantizedTensor.roundToNearest(weight, as: type).dequantized()
            }
        }

        /// Throws when a weight with rows of `columns` elements cannot be quantized this way.
        public func check(columns: Int) throws {
            switch self {
            case .integer(let scheme): try scheme.validate(forWeightShape: [1, columns])
            case .ggml(let type):
                guard GGMLQuantizedTensor.fits(type, columns: columns) else {
                    throw QuantizationError.ggmlRowLength(type: type.name, blockSize: type.blockSize, columns: columns)
                }
            }
        }

        /// Consecutive elements of a row that share one scale.
        public func groupWidth(columns: Int) -> Int {
            switch self {
            case .integer(let scheme): return scheme.groupWidth(columns: columns)
            case .ggml(let type): return type.blockSize
            }
        }

        public var description: String {
            switch self {
            case .integer(let scheme): return scheme.description
            case .ggml(let type): return type.name
            }
        }
    }

    /// One group's input on calibration data: Σ|x| per channel and the Gram matrix Σ xᵀx.
    ///
    /// The Gram matrix is summed in Float (one GEMM per batch, added in calibration order): it
    /// only ranks the grid's candidates, and Double would double the memory of a whole model's
    /// groups (362 MB → 725 MB for SmolLM2-135M).
    public struct InputStatistics: Sendable {
        public let channels: Int
        public private(set) var rows = 0
        private var magnitudeSum: [Double]
        /// Σ xᵀx, [channels, channels] row-major.
        public private(set) var gram: [Float]

        public init(channels: Int) {
            precondition(channels > 0, "AWQ.InputStatistics: channels must be positive")
            self.channels = channels
            magnitudeSum = [Double](repeating: 0, count: channels)
            gram = [Float](repeating: 0, count: channels * channels)
        }

        /// Adds inputs [rows, channels].
        public mutating func add(_ x: Tensor) throws {
            guard x.rank == 2, x.shape[1] == channels else {
                throw QuantizationError.calibrationWidthMismatch(expected: channels, found: x.shape.last ?? 0)
            }
            let n = x.shape[0]
            guard n > 0 else { return }
            let c = channels
            x.scalars.withUnsafeBufferPointer { v in
                for r in 0..<n {
                    for j in 0..<c { magnitudeSum[j] += Double(abs(v[r * c + j])) }
                }
            }
            let g = Tensor.matmul(x, x, transposeA: true)
            g.scalars.withUnsafeBufferPointer { g in
                gram.withUnsafeMutableBufferPointer { s in
                    for i in s.indices { s[i] += g[i] }
                }
            }
            rows += n
        }

        /// mean |x| per channel.
        public var meanMagnitude: [Float] {
            magnitudeSum.map { rows > 0 ? Float($0 / Double(rows)) : 0 }
        }

        /// The Gram matrix as a tensor [channels, channels].
        public var gramMatrix: Tensor { Tensor(shape: [channels, channels], scalars: gram) }
    }

    /// The search's settings.
    public struct Settings: Equatable, Sendable {
        /// α takes the values 0, 1/grid, …, (grid − 1)/grid.
        public var grid = 20
        /// Divide by the weights' mean relative magnitude^(1 − α) as well (llm-compressor's
        /// `duo_scaling`, AutoAWQ's default).
        public var duoScaling = false
        public var quantizer: Quantizer

        public init(quantizer: Quantizer, grid: Int = 20, duoScaling: Bool = false) {
            self.quantizer = quantizer
            self.grid = grid
            self.duoScaling = duoScaling
        }
    }

    /// What the search chose for one group.
    public struct Result: Equatable {
        /// The chosen α; nil when no candidate beat plain round to nearest (the scales are then 1).
        public var alpha: Double?
        /// One factor per input channel (all 1 when `alpha` is nil).
        public var scales: [Float]
        /// E at the chosen scales.
        public var error: Double
        /// E with scales 1: plain round to nearest.
        public var roundToNearestError: Double
    }

    /// The candidate scales for `alpha`: mean|x|^α, or mean|x|^α / (w̄^(1−α) + 1e-4) with duo
    /// scaling; clamped below at 1e-4, divided by √(max·min), and 1 where that is not finite.
    public static func scales(inputMagnitude x: [Float], weightMagnitude w: [Float]?, alpha: Double) -> [Float] {
        var s = x.indices.map { j -> Double in
            var value = Foundation.pow(Double(Swift.max(x[j], 0)), alpha)
            if let w { value /= Foundation.pow(Double(w[j]), 1 - alpha) + 1e-4 }
            return Swift.max(value, 1e-4)
        }
        let norm = (s.max()! * s.min()!).squareRoot()
        for j in s.indices {
            s[j] /= norm
            if !s[j].isFinite { s[j] = 1 }
        }
        return s.map { Float($0) }
    }

    /// llm-compressor's weight statistic for duo scaling: each weight's |w| relative to the
    /// largest |w| of its quantization group (+1e-6), averaged per input column over every row of
    /// every consumer.
    public static func weightMagnitude(_ weights: [Tensor], groupWidth: Int) -> [Float] {
        let columns = weights[0].shape[1]
        var sum = [Double](repeating: 0, count: columns)
        var rows = 0
        for w in weights {
            w.scalars.withUnsafeBufferPointer { v in
                for r in 0..<w.shape[0] {
                    for start in stride(from: 0, to: columns, by: groupWidth) {
                        let range = (r * columns + start)..<(r * columns + Swift.min(start + groupWidth, columns))
                        let largest = range.reduce(Float(0)) { Swift.max($0, abs(v[$1])) }
                        for i in range { sum[i - r * columns] += Double(abs(v[i]) / (largest + 1e-6)) }
                    }
                }
            }
            rows += w.shape[0]
        }
        return sum.map { Float($0 / Double(rows)) }
    }

    /// E(s) for the consumers' weights [out_i, in] and the Gram matrix of their input [in, in].
    public static func outputError(_ weights: [Tensor], gram: Tensor, scales: [Float], quantizer: Quantizer) throws -> Double {
        let columns = gram.shape[0]
        let rows = weights.reduce(0) { $0 + $1.shape[0] }
        var difference = [Float](repeating: 0, count: rows * columns)
        var offset = 0
        for w in weights {
            let n = w.shape[0]
            var scaled = w
            scaled.scalars.withUnsafeMutableBufferPointer { v in
                for r in 0..<n { for j in 0..<columns { v[r * columns + j] *= scales[j] } }
            }
            let q = try quantizer.roundTrip(scaled)
            w.scalars.withUnsafeBufferPointer { v in
                q.scalars.withUnsafeBufferPointer { q in
                    difference.withUnsafeMutableBufferPointer { d in
                        for r in 0..<n {
                            for j in 0..<columns {
                                d[offset + r * columns + j] = v[r * columns + j] - q[r * columns + j] / scales[j]
                            }
                        }
                    }
                }
            }
            offset += n * columns
        }
        let d = Tensor(shape: [rows, columns], scalars: difference)
        let dg = Tensor.matmul(d, gram)
        var error = 0.0
        dg.scalars.withUnsafeBufferPointer { m in
            for i in difference.indices { error += Double(m[i]) * Double(difference[i]) }
        }
        return error
    }

    /// Searches α for one group whose consumers have weights `weights` (their current values).
    public static func search(_ weights: [Tensor], statistics: InputStatistics, settings: Settings) throws -> Result {
        precondition(!weights.isEmpty && weights.allSatisfy { $0.rank == 2 && $0.shape[1] == statistics.channels },
                     "AWQ.search: consumers must read the statistics' \(statistics.channels) channels")
        guard statistics.rows > 0 else { throw QuantizationError.noCalibrationData }
        let gram = statistics.gramMatrix
        let magnitude = statistics.meanMagnitude
        let columns = statistics.channels
        let weightMagnitude = settings.duoScaling
            ? Self.weightMagnitude(weights, groupWidth: settings.quantizer.groupWidth(columns: columns)) : nil
        let ones = [Float](repeating: 1, count: columns)
        let baseline = try outputError(weights, gram: gram, scales: ones, quantizer: settings.quantizer)
        var best = Result(alpha: nil, scales: ones, error: baseline, roundToNearestError: baseline)
        for step in 0..<settings.grid {
            let alpha = Double(step) / Double(settings.grid)
            let s = scales(inputMagnitude: magnitude, weightMagnitude: weightMagnitude, alpha: alpha)
            // α = 0 without duo scaling is s = 1 exactly: the baseline, already measured.
            if s == ones { continue }
            let error = try outputError(weights, gram: gram, scales: s, quantizer: settings.quantizer)
            if error < best.error { best = Result(alpha: alpha, scales: s, error: error, roundToNearestError: baseline) }
        }
        return best
    }
}
