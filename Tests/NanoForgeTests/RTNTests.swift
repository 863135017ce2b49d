import Testing
import NanoTensor
@testable import NanoForge
@testable import NanoQuant

/// Round-to-nearest: error bounds per granularity, observers, storage accounting.
@Suite struct RTNTests {
    static let schemes: [QuantizationScheme] = [8, 4, 3, 2].flatMap { bits in
        [QuantizationScheme.Granularity.tensor, .channel, .group(16)].flatMap { g in
            [true, false].map { QuantizationScheme(bits: bits, symmetric: $0, granularity: g) }
        }
    }

    @Test(arguments: schemes)
    func everyWeightIsWithinHalfAStepOfItsSlice(_ scheme: QuantizationScheme) throws {
        var rng = RandomGenerator(seed: UInt64(scheme.bits))
        let w = rng.normal(shape: [12, 64])
        let q = try RTN.quantize(w, scheme: scheme)
        let dq = q.dequantized()
        #expect(q.scales.count == scheme.scaleCount(rows: 12, columns: 64))
        for r in 0..<12 { for c in 0..<64 {
            let scale = q.scales[scheme.scaleIndex(row: r, column: c, columns: 64)]
            #expect(abs(w[r, c] - dq[r, c]) <= scale * 0.5 * (1 + 1e-4) + 1e-6, "\(scheme) (\(r), \(c))")
        } }
        // Finer slices never do worse on the whole.
        if scheme.granularity == .channel {
            let tensorWise = try RTN.quantize(w, scheme: QuantizationScheme(bits: scheme.bits, symmetric: scheme.symmetric, granularity: .tensor))
            #expect(quantizationSquaredDifference(w, dq) <= quantizationSquaredDifference(w, tensorWise.dequantized()))
        }
    }

    @Test func int8PerChannelIsNearlyLossless() throws {
        var rng = RandomGenerator(seed: 1)
        let w = rng.normal(shape: [64, 256], std: 0.05)
        let dq = try RTN.quantize(w, scheme: QuantizationScheme(bits: 8)).dequantized()
        // Measured 0.00683 (rounding noise of step/√12, the step absmax/127 of a ~4σ row maximum).
        #expect((quantizationSquaredDifference(w, dq) / quantizationSquaredDifference(w, Tensor.zeros(w.shape))).squareRoot() < 0.0075)
    }

    @Test func mseAndPercentileObserversBeatMinMaxAtLowBits() throws {
        var rng = RandomGenerator(seed: 2)
        var w = rng.normal(shape: [32, 128])
        for r in 0..<32 { w[r, r] = 8 }   // one outlier per row stretches the min/max range
        let scheme = QuantizationScheme(bits: 3, granularity: .channel)
        let minmax = quantizationSquaredDifference(w, try RTN.quantize(w, scheme: scheme).dequantized())
        let mse = quantizationSquaredDifference(w, try RTN.quantize(w, scheme: scheme, observer: .mse).dequantized())
        let percentile = quantizationSquaredDifference(w, try RTN.quantize(w, scheme: scheme, observer: .percentile(99)).dequantized())
        #expect(mse < minmax * 0.8, "mse \(mse) minmax \(minmax)")
        #expect(percentile < minmax, "percentile \(percentile) minmax \(minmax)")
    }

    @Test func storageAccounting() throws {
        var rng = RandomGenerator(seed: 3)
        let w = rng.normal(shape: [8, 256])
        let int4 = try RTN.quantize(w, scheme: QuantizationScheme(bits: 4, granularity: .group(128)), scaleFormat: .float16)
        #expect(int4.packed.count == 8 * 256 / 2)
        #expect(int4.bitsPerWeight == 4.125)
        let asym = try RTN.quantize(w, scheme: QuantizationScheme(bits: 4, symmetric: false, granularity: .group(128)), scaleFormat: .float16)
        #expect(asym.bitsPerWeight == 4.125 + 4.0 / 128)
        let int8 = try RTN.quantize(w, scheme: QuantizationScheme(bits: 8), scaleFormat: .float32)
        #expect(int8.packedByteCount == 8 * 256 + 8 * 4)
        #expect(try QuantizedTensor(shape: int4.shape, scheme: int4.scheme, packed: int4.packed, scales: int4.scales,
                                    zeroPoints: nil, scaleFormat: .float16) == int4)
        #expect(throws: QuantizationError.storageMismatch(field: "scales", expected: 16, found: 15)) {
            try QuantizedTensor(shape: int4.shape, scheme: int4.scheme, packed: int4.packed, scales: Array(int4.scales.dropLast()),
                                zeroPoints: nil, scaleFormat: .float16)
        }
    }

    @Test func badInputsThrow() {
        #expect(throws: QuantizationError.nonFiniteWeight) {
            try RTN.quantize(Tensor(shape: [1, 2], scalars: [1, .nan]), scheme: QuantizationScheme(bits: 4))
        }
        #expect(throws: QuantizationError.groupSizeDoesNotDivideColumns(groupSize: 3, columns: 4)) {
            try RTN.quantize(Tensor.zeros([2, 4]), scheme: QuantizationScheme(bits: 4, granularity: .group(3)))
        }
    }
}
