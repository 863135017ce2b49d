/// How the clipping range of one slice of values (a tensor, a row, or a group) is chosen before
/// it is mapped onto the integer grid.
///
/// - `minmax`: the full range; nothing clips.
/// - `percentile(p)`: clip at the p-th percentile (0 < p ≤ 100). Symmetric grids clip |x| at its
///   p-th percentile; asymmetric grids take the (100 - p)-th and p-th percentiles of x.
/// - `mse`: a grid search over clip ratios `mseClipRatios` (1.00, 0.99, …, 0.51) of the
///   min/max range, keeping the one whose fake-quantized slice has the smallest squared error,
///   as llm-compressor's MSE observer does (there with a 20-point grid down to 0.81). Clipping a
///   few outliers buys a finer step for everything else, which at 3–4 bits usually wins.
///
/// Weight quantizers (RTN, GPTQ) call `parameters(for:bits:symmetric:scaleFormat:)` per slice;
/// `ActivationObserver` applies the same choices to calibration histograms.
public enum Observer: Equatable, Hashable, Codable, Sendable {
    case minmax
    case percentile(Double)
    case mse

    /// The clip ratios the `mse` observer tries, largest first.
    public static let mseClipRatios: [Float] = (0..<50).map { 1 - Float($0) / 100 }

    /// Throws for a percentile outside (0, 100].
    public func validate() throws {
        if case .percentile(let p) = self, !(p > 0 && p <= 100) {
            throw QuantizationError.percentileOutOfRange(found: p)
        }
    }

    /// The scale and zero point for one slice of values.
    public func parameters(for values: UnsafeBufferPointer<Float>, bits: Int, symmetric: Bool,
                           scaleFormat: ScaleFormat = .float32) -> QuantizationParameters {
        var lo = Float.infinity, hi = -Float.infinity
        for x in values { lo = min(lo, x); hi = max(hi, x) }
        if values.isEmpty { lo = 0; hi = 0 }
        switch self {
        case .minmax:
            return QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: symmetric, scaleFormat: scaleFormat)
        case .percentile(let p):
            let (plo, phi) = Self.percentileRange(values, p, symmetric: symmetric)
            return QuantizationNumerics.parameters(min: plo, max: phi, bits: bits, symmetric: symmetric, scaleFormat: scaleFormat)
        case .mse:
            let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
            let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
            var best = QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: symmetric, scaleFormat: scaleFormat)
            var bestError = QuantizationNumerics.squaredError(values, best, qmin: qmin, qmax: qmax)
            for ratio in Self.mseClipRatios.dropFirst() {
                let candidate = QuantizationNumerics.parameters(min: lo * ratio, max: hi * ratio, bits: bits,
                                                                symmetric: symmetric, scaleFormat: scaleFormat)
                let error = QuantizationNumerics.squaredError(values, candidate, qmin: qmin, qmax: qmax)
                if error < bestError { best = candidate; bestError = error }
            }
            return best
        }
    }

    /// The clipping range at percentile `p`, interpolating linearly between order statistics.
    static func percentileRange(_ values: UnsafeBufferPointer<Float>, _ p: Double, symmetric: Bool) -> (Float, Float) {
        guard !values.isEmpty else { return (0, 0) }
        if symmetric {
            let a = quantile(values.map { abs($0) }.sorted(), p / 100)
            return (-a, a)
        }
        let sorted = values.sorted()
        return (quantile(sorted, 1 - p / 100), quantile(sorted, p / 100))
    }

    /// The q-quantile (0 ≤ q ≤ 1) of sorted values, linearly interpolated.
    static func quantile(_ sorted: [Float], _ q: Double) -> Float {
        let position = min(max(q, 0), 1) * Double(sorted.count - 1)
        let below = Int(position.rounded(.down))
        let above = min(below + 1, sorted.count - 1)
        let t = Float(position - Double(below))
        return sorted[below] + (sorted[above] - sorted[below]) * t
    }
}
