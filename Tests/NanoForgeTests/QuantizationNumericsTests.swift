import Foundation
import Testing
import NanoTensor
@testable import NanoForge
@testable import NanoQuant

/// Properties of the shared numerics: grids, rounding error, idempotence, exact zero, packing.
@Suite struct QuantizationNumericsTests {
    static let grids: [(Int, Bool)] = (2...8).flatMap { [($0, true), ($0, false)] }

    @Test func gridsAreNarrowSymmetricOrUnsigned() {
        #expect(QuantizationNumerics.qmin(bits: 8, symmetric: true) == -127)
        #expect(QuantizationNumerics.qmax(bits: 8, symmetric: true) == 127)
        #expect(QuantizationNumerics.qmin(bits: 4, symmetric: true) == -7)
        #expect(QuantizationNumerics.qmax(bits: 2, symmetric: true) == 1)
        #expect(QuantizationNumerics.qmin(bits: 4, symmetric: false) == 0)
        #expect(QuantizationNumerics.qmax(bits: 4, symmetric: false) == 15)
        #expect(QuantizationNumerics.qmax(bits: 8, symmetric: false) == 255)
    }

    @Test(arguments: grids)
    func errorIsAtMostHalfAStepInsideTheRange(_ grid: (Int, Bool)) {
        let (bits, symmetric) = grid
        var rng = RandomGenerator(seed: UInt64(bits * 2 + (symmetric ? 1 : 0)))
        for _ in 0..<20 {
            let lo = rng.uniform(-3, 0.5), hi = lo + rng.uniform(0.01, 4)
            let p = QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: symmetric)
            let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
            let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
            for _ in 0..<200 {
                let x = rng.uniform(lo, hi)
                let error = abs(x - QuantizationNumerics.fakeQuantize(x, p, qmin: qmin, qmax: qmax))
                // The representable range may sit a rounding of the zero point away from [lo, hi].
                #expect(error <= p.scale * 0.5 * (1 + 1e-4) + 1e-6, "x \(x) in [\(lo), \(hi)] scale \(p.scale)")
            }
        }
    }

    @Test(arguments: grids)
    func quantizeAfterDequantizeIsIdentityOnCodes(_ grid: (Int, Bool)) {
        let (bits, symmetric) = grid
        let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
        let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
        for (lo, hi) in [(Float(-1), Float(1)), (-0.003, 7.5), (-250, 0.1), (0, 1e-3)] {
            let p = QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: symmetric, scaleFormat: .float16)
            for q in qmin...qmax {
                #expect(QuantizationNumerics.quantize(QuantizationNumerics.dequantize(q, p), p, qmin: qmin, qmax: qmax) == q)
            }
            var rng = RandomGenerator(seed: 3)
            for _ in 0..<100 {
                let once = QuantizationNumerics.fakeQuantize(rng.uniform(lo * 2, hi * 2), p, qmin: qmin, qmax: qmax)
                #expect(QuantizationNumerics.fakeQuantize(once, p, qmin: qmin, qmax: qmax) == once)
            }
        }
    }

    @Test(arguments: 2...8)
    func zeroIsExactForAsymmetricGrids(_ bits: Int) {
        var rng = RandomGenerator(seed: UInt64(bits))
        for _ in 0..<200 {
            let lo = rng.uniform(-5, 2), hi = lo + rng.uniform(0, 6)
            for format in [ScaleFormat.float32, .float16] {
                let p = QuantizationNumerics.parameters(min: lo, max: hi, bits: bits, symmetric: false, scaleFormat: format)
                #expect(QuantizationNumerics.fakeQuantize(0, p, qmin: 0, qmax: (1 << bits) - 1) == 0, "[\(lo), \(hi)]")
            }
        }
    }

    @Test func roundingIsHalfToEvenAndClamps() {
        let p = QuantizationParameters(scale: 1)
        #expect(QuantizationNumerics.quantize(2.5, p, qmin: -7, qmax: 7) == 2)
        #expect(QuantizationNumerics.quantize(3.5, p, qmin: -7, qmax: 7) == 4)
        #expect(QuantizationNumerics.quantize(-2.5, p, qmin: -7, qmax: 7) == -2)
        #expect(QuantizationNumerics.quantize(100, p, qmin: -7, qmax: 7) == 7)
        #expect(QuantizationNumerics.quantize(-.infinity, p, qmin: -7, qmax: 7) == -7)
        #expect(QuantizationNumerics.quantize(.nan, p, qmin: -7, qmax: 7) == -7)
    }

    @Test func degenerateRangesAndFloat16Scales() {
        #expect(QuantizationNumerics.parameters(min: 0, max: 0, bits: 4, symmetric: true).scale == 1)
        #expect(QuantizationNumerics.parameters(min: 0, max: 0, bits: 4, symmetric: false).scale == 1)
        let p = QuantizationNumerics.parameters(min: -1, max: 1, bits: 8, symmetric: true, scaleFormat: .float16)
        #expect(HalfPrecision.float(fromFloat16: HalfPrecision.float16Bits(p.scale)) == p.scale)
        #expect(QuantizationNumerics.storable(1e-30, .float16) > 0)
        #expect(QuantizationNumerics.storable(1e9, .float16) == 65504)
    }

    @Test(arguments: grids)
    func packThenUnpackIsIdentity(_ grid: (Int, Bool)) {
        let (bits, symmetric) = grid
        let qmin = QuantizationNumerics.qmin(bits: bits, symmetric: symmetric)
        let qmax = QuantizationNumerics.qmax(bits: bits, symmetric: symmetric)
        var rng = RandomGenerator(seed: UInt64(bits))
        for count in [0, 1, 2, 3, 5, 8, 127, 1000] {
            let codes = (0..<count).map { _ in qmin + Int32(rng.nextInt(below: Int(qmax - qmin) + 1)) }
            let packed = QuantizationNumerics.pack(codes, bits: bits)
            #expect(packed.count == QuantizationNumerics.packedByteCount(count: count, bits: bits))
            #expect(QuantizationNumerics.unpack(packed, count: count, bits: bits, signed: symmetric) == codes)
        }
    }

    @Test func byteLayouts() {
        // int8: one two's-complement byte each.
        #expect(QuantizationNumerics.pack([-1, 127, -127, 0], bits: 8) == [0xFF, 0x7F, 0x81, 0x00])
        // int4: low nibble first.
        #expect(QuantizationNumerics.packInt4([1, 2, -1]) == [0x21, 0x0F])
        #expect(QuantizationNumerics.unpackInt4([0x21, 0x0F], count: 3, signed: true) == [1, 2, -1])
        #expect(QuantizationNumerics.unpackInt4([0xF1], count: 2, signed: false) == [1, 15])
        // int3 travels as nibbles, int2 four to a byte, lowest bits first.
        #expect(QuantizationNumerics.pack([3, -3], bits: 3) == [0x53])
        #expect(QuantizationNumerics.pack([1, -1, 0, 1], bits: 2) == [0b01_00_11_01])
    }

    @Test func schemeValidation() throws {
        #expect(throws: QuantizationError.bitsOutOfRange(found: 9)) { try QuantizationScheme(bits: 9).validate() }
        #expect(throws: QuantizationError.bitsOutOfRange(found: 1)) { try QuantizationScheme(bits: 1).validate() }
        #expect(throws: QuantizationError.nonPositiveGroupSize(found: 0)) {
            try QuantizationScheme(bits: 4, granularity: .group(0)).validate()
        }
        #expect(throws: QuantizationError.groupSizeDoesNotDivideColumns(groupSize: 128, columns: 200)) {
            try QuantizationScheme(bits: 4, granularity: .group(128)).validate(forWeightShape: [4, 200])
        }
        #expect(throws: QuantizationError.notAMatrix(shape: [4])) { try QuantizationScheme(bits: 4).validate(forWeightShape: [4]) }
        #expect(throws: QuantizationError.percentileOutOfRange(found: 0)) { try Observer.percentile(0).validate() }
        try QuantizationScheme(bits: 4, symmetric: false, granularity: .group(32)).validate(forWeightShape: [3, 64])
        #expect(QuantizationError.bitsOutOfRange(found: 9).description.contains("2...8"))
    }

    @Test func schemeRoundTripsThroughCodable() throws {
        for scheme in [QuantizationScheme(bits: 4, granularity: .group(128)), QuantizationScheme(bits: 8, symmetric: false, granularity: .tensor)] {
            let data = try JSONEncoder().encode(scheme)
            #expect(try JSONDecoder().decode(QuantizationScheme.self, from: data) == scheme)
        }
    }
}
