import NanoQuant
import NanoTensor

/// Collects the range of one activation tensor over calibration batches and turns it into
/// per-tensor parameters for static activation quantization (int8, typically).
///
/// It keeps the running min/max and a histogram of `binCount` equal bins over a range that
/// grows with the data: when a batch falls outside it, the range doubles (around zero) and old
/// bins merge pairwise, so no sample is ever dropped and memory stays fixed (the scheme of
/// PyTorch's `HistogramObserver`, simplified to power-of-two growth). From the histogram:
/// - `minmax`: the running min/max;
/// - `percentile(p)`: the p-th percentile of |x| (symmetric) or the (100-p)-th and p-th of x;
/// - `mse`: the clip ratio of `Observer.mseClipRatios` minimizing the squared fake-quantization
///   error, with each bin's count placed at its centre.
public struct ActivationObserver: Sendable {
    public let observer: Observer
    public let binCount: Int
    /// Running extremes of everything seen.
    public private(set) var minimum: Float = .infinity
    public private(set) var maximum: Float = -.infinity
    /// The histogram covers [-limit, limit); 0 until the first non-zero value.
    public private(set) var limit: Float = 0
    public private(set) var counts: [Double]

    public init(observer: Observer = .minmax, binCount: Int = 2048) throws {
        try observer.validate()
        precondition(binCount >= 2 && binCount % 2 == 0, "ActivationObserver: binCount must be even and ≥ 2")
        self.observer = observer
        self.binCount = binCount
        self.counts = [Double](repeating: 0, count: binCount)
    }

    /// The number of values seen.
    public var sampleCount: Double { counts.reduce(0, +) }

    /// Records a batch of activations (any shape). Non-finite values are ignored.
    public mutating func observe(_ x: Tensor) {
        var absmax: Float = 0
        for v in x.scalars where v.isFinite {
            minimum = min(minimum, v); maximum = max(maximum, v); absmax = max(absmax, abs(v))
        }
        if limit == 0 { limit = absmax > 0 ? absmax : 0 }
        while absmax >= limit && limit > 0 { grow() }
        let width = limit > 0 ? 2 * limit / Float(binCount) : 1
        for v in x.scalars where v.isFinite {
            let bin = limit > 0 ? Int(((v + limit) / width).rounded(.down)) : binCount / 2
            counts[min(max(bin, 0), binCount - 1)] += 1
        }
    }

    /// Doubles the covered range: bins 2k and 2k+1 merge into bin binCount/4 + k.
    mutating func grow() {
        var merged = [Double](repeating: 0, count: binCount)
        for k in 0..<(binCount / 2) { merged[binCount / 4 + k] = counts[2 * k] + counts[2 * k + 1] }
        counts = merged
        limit *= 2
    }

    /// The clipping range chosen by the observer.
    public func range(bits: Int = 8, symmetric: Bool = true) -> (min: Float, max: Float) {
        guard minimum <= maximum else { return (0, 0) }
        switch observer {
        case .minmax:
            return (minimum, maximum)
        case .percentile(let p):
            if symmetric {
                let a = min(absQuantile(p / 100), max(abs(minimum), abs(maximum)))
                return (-a, a)
            }
            return (max(quantile(1 - p / 100), minimum), min(quantile(p / 100), maximum))
        case .mse:
            let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
            let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
            var best = (minimum, maximum), bestError = Double.infinity
            for ratio in Observer.mseClipRatios {
                let p = QuantizationNumerics.parameters(min: minimum * ratio, max: maximum * ratio, bits: bits, symmetric: symmetric)
                var error: Double = 0
                for (i, count) in counts.enumerated() where count > 0 {
                    let centre = binCentre(i)
                    let d = Double(QuantizationNumerics.fakeQuantize(centre, p, qmin: qmin, qmax: qmax) - centre)
                    error += count * d * d
                }
                if error < bestError { bestError = error; best = (minimum * ratio, maximum * ratio) }
            }
            return best
        }
    }

    /// The per-tensor scale and zero point for the observed activations.
    public func parameters(bits: Int = 8, symmetric: Bool = true, scaleFormat: ScaleFormat = .float32) -> QuantizationParameters {
        let (lo, hi) = range(bits: bits, symmetric: symmetric)
        return QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: symmetric, scaleFormat: scaleFormat)
    }

    func binCentre(_ i: Int) -> Float { -limit + (Float(i) + 0.5) * 2 * limit / Float(binCount) }

    /// The q-quantile of the values (upper bin edge where the cumulative count reaches q·n).
    func quantile(_ q: Double) -> Float {
        let target = q * sampleCount
        var cumulative: Double = 0
        for (i, count) in counts.enumerated() {
            cumulative += count
            if cumulative >= target && count > 0 { return binCentre(i) + limit / Float(binCount) }
        }
        return maximum
    }

    /// The q-quantile of |x|.
    func absQuantile(_ q: Double) -> Float {
        let target = q * sampleCount
        let half = binCount / 2
        var cumulative: Double = 0
        for k in 0..<half {
            cumulative += counts[half + k] + counts[half - 1 - k]
            if cumulative >= target { return Float(k + 1) * 2 * limit / Float(binCount) }
        }
        return limit
    }
}
