import NanoForge
@testable import NanoQuant
@testable import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// The runtime's default kernel choice (`RuntimeKernel.scheme`) computes the stored scheme:
/// float activations for weight-only layers, and for dynamic per-token activations the same
/// codes that evaluation's fake quantization produces.
@Suite struct SchemeKernelTests {
    static func random(_ shape: [Int], seed: UInt64, std: Float = 0.5) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return rng.normal(shape: shape, std: std)
    }

    /// Int8GEMM's on-the-fly codes · scale equal `QuantizationNumerics.fakeQuantizePerRow` exactly,
    /// exact ties included (row absmax 127 → scale 1, so 2.5 and −3.5 are ties): SIMD body and
    /// scalar tail (odd widths).
    @Test(arguments: [(1, 8), (3, 13), (7, 64), (4, 385)])
    func int8GEMMCodesAreTheFakeQuantizedValues(_ m: Int, _ k: Int) throws {
        var x = Self.random([m, k], seed: UInt64(m * 100 + k), std: 3)
        x.scalars[0] = 127
        for (j, v) in [Float(2.5), -3.5, 0.5, -126.5, 63.5].enumerated() where j + 1 < k { x.scalars[j + 1] = v }
        for j in 0..<k where m > 1 { x.scalars[k + j] = 0 }   // an all-zero row
        let q = try RTN.quantize(Self.random([5, k], seed: 1), scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
        let gemm = try #require(Int8GEMM(PackedWeight(q)))
        let (codes, scales) = x.scalars.withUnsafeBufferPointer { gemm.quantizeActivations($0.baseAddress!, m: m) }
        let fake = QuantizationNumerics.fakeQuantizePerRow(x, bits: 8)
        for i in 0..<m {
            for j in 0..<k {
                let kernel = Float(codes[i * gemm.paddedColumns + j]) * scales[i]
                // Equal as numbers (a code 0 from a small negative input is −0 in the fake quantization).
                #expect(kernel == fake.scalars[i * k + j], "row \(i) column \(j): \(kernel) vs \(fake.scalars[i * k + j])")
            }
        }
    }

    /// Which GEMM each stored scheme gets under `.scheme`, and that the layer computes the
    /// dequantized weights on the (fake-quantized) input to float summation order.
    @Test func schemeKernelFollowsTheStoredScheme() throws {
        let dynamic = ActivationQuantization.dynamicPerToken()
        let calibrated = ActivationQuantization(parameters: QuantizationParameters(scale: 0.02, zeroPoint: 120), symmetric: false)
        let cases: [(QuantizationScheme, ActivationQuantization?, integer: Bool)] = [
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), nil, false),       // weight-only: float activations
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), dynamic, true),    // exact int8 × int8
            (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), calibrated, false),
            (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)), dynamic, false), // fake quant + dequant GEMM
            (QuantizationScheme(bits: 8, symmetric: false, granularity: .channel), dynamic, false),
        ]
        for (i, (scheme, input, integer)) in cases.enumerated() {
            let (n, k) = (48, 96)
            let q = try RTN.quantize(Self.random([n, k], seed: UInt64(20 + i)), scheme: scheme)
            let bias = Self.random([n], seed: 7)
            let layer = RuntimeLinear(name: "l", weight: .packed(PackedWeight(q), nil), bias: bias.scalars, input: input).with(.scheme)
            guard case .packed(_, let gemm) = layer.weight else { Issue.record("not packed"); continue }
            #expect((gemm != nil) == integer, "\(scheme) \(String(describing: input))")
            for m in [1, 9] {
                let x = Self.random([m, k], seed: UInt64(m + 40), std: 1.5)
                let y = layer(x, kernel: .scheme)
                let expected = KernelTests.referenceLinear(input.map { $0.apply(x) } ?? x, q.dequantized(), bias)
                // Float summation order only: measured ≤ 2e-6 here; the dense path gives the same.
                #expect(maxAbsDifference(y, expected) < 2e-5, "\(scheme) \(String(describing: input)) m=\(m)")
                #expect(maxAbsDifference(layer(x, kernel: .dequant), expected) < 2e-5)
            }
        }
    }

    @Test func approximateKernelsAreNamed() {
        #expect(RuntimeKernel.standard == .scheme && !RuntimeKernel.standard.approximates)
        #expect(RuntimeKernel(name: "u8s8-7bit") == .u8s8 && RuntimeKernel(name: "u8s8") == .u8s8 && RuntimeKernel(name: "integer") == .integer)
        #expect(RuntimeKernel.u8s8.approximates && RuntimeKernel.u8s8.approximationNote?.contains("7 bits") == true)
        #expect(RuntimeKernel.dequant.approximationNote == nil && RuntimeKernel(name: "int7") == nil)
    }
}
