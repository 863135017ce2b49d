import Testing
import NanoTensor
@testable import NanoForge
@testable import NanoQuant

/// Weight observers on slices, and the activation observer's calibration histogram.
@Suite struct QuantizationObserverTests {
    @Test func percentileOfASliceInterpolates() {
        let values: [Float] = (0...100).map { Float($0) - 50 }   // -50 … 50
        values.withUnsafeBufferPointer { v in
            let (lo, hi) = Observer.percentileRange(v, 90, symmetric: false)
            #expect(abs(lo + 40) < 1e-4 && abs(hi - 40) < 1e-4)
            let (slo, shi) = Observer.percentileRange(v, 100, symmetric: true)
            #expect(slo == -50 && shi == 50)
        }
    }

    @Test func mseObserverNeverLosesToMinMax() {
        var rng = RandomGenerator(seed: 9)
        for bits in [2, 3, 4, 8] {
            for symmetric in [true, false] {
                let values = rng.normal(shape: [128]).scalars
                values.withUnsafeBufferPointer { v in
                    let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
                    let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
                    let minmax = Observer.minmax.parameters(for: v, bits: bits, symmetric: symmetric)
                    let mse = Observer.mse.parameters(for: v, bits: bits, symmetric: symmetric)
                    #expect(QuantizationNumerics.squaredError(v, mse, qmin: qmin, qmax: qmax)
                            <= QuantizationNumerics.squaredError(v, minmax, qmin: qmin, qmax: qmax))
                }
            }
        }
    }

    @Test func activationMinMaxAcrossBatchesAndGrowth() throws {
        var observer = try ActivationObserver(observer: .minmax, binCount: 64)
        observer.observe(Tensor(shape: [3], scalars: [0.5, -0.25, 0]))
        observer.observe(Tensor(shape: [2], scalars: [3, -1]))      // grows the histogram range
        observer.observe(Tensor(shape: [2], scalars: [.nan, 0.1]))  // NaN ignored
        #expect(observer.range() == (-1, 3))
        #expect(observer.sampleCount == 6)
        #expect(observer.limit >= 3)
        let p = observer.parameters(bits: 8, symmetric: true)
        #expect(p.scale == 3 / 127 && p.zeroPoint == 0)
    }

    @Test func activationPercentileClipsOutliers() throws {
        var rng = RandomGenerator(seed: 10)
        var observer = try ActivationObserver(observer: .percentile(99.9))
        for _ in 0..<10 { observer.observe(rng.normal(shape: [1000])) }
        observer.observe(Tensor(shape: [1], scalars: [50]))
        let (lo, hi) = observer.range()
        // |x| of a standard normal has its 99.9th percentile at 3.29; bins are 100/2048 wide.
        #expect(abs(hi - 3.29) < 0.3 && lo == -hi, "\(lo) \(hi)")
        let (alo, ahi) = observer.range(bits: 8, symmetric: false)
        #expect(alo < -2.5 && alo > -3.6 && ahi > 2.5 && ahi < 3.6, "\(alo) \(ahi)")
    }

    @Test func activationMSEBeatsMinMaxWithOutliers() throws {
        var rng = RandomGenerator(seed: 11)
        var mse = try ActivationObserver(observer: .mse), minmax = try ActivationObserver(observer: .minmax)
        var batches: [Tensor] = (0..<5).map { _ in rng.normal(shape: [2000]) }
        batches[2].scalars[7] = 40
        for b in batches { mse.observe(b); minmax.observe(b) }
        func error(_ p: QuantizationParameters) -> Double {
            batches.reduce(0) { total, b in
                total + quantizationSquaredDifference(b, QuantizationNumerics.fakeQuantize(b, p, bits: 4, symmetric: true))
            }
        }
        let pm = mse.parameters(bits: 4), pa = minmax.parameters(bits: 4)
        #expect(pm.scale < pa.scale)
        #expect(error(pm) < error(pa) * 0.9, "mse \(error(pm)) minmax \(error(pa))")
    }
}
