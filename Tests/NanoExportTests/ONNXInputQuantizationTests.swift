import Foundation
import Testing
import NanoForge
import NanoModels
import NanoRuntime
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// One quantized Linear layer with quantized input, exported and run by onnxruntime on the same
/// input rows as nanoforge's deployed engine (`RuntimeLinear` with the default kernel: `Int8GEMM`
/// for dynamic per-token input, fake quantization + the dequantizing GEMM for static input):
/// every input gets the same code in both, so the outputs differ by float summation order only.
///
/// The rows are built to expose every way two quantizers can disagree: exact ties (x / scale =
/// k + ½: ties-to-even against ties-away), inputs beyond the grid on both sides (nanoforge's
/// symmetric int8 stops at −127, ONNX's int8 at −128), an all-zero row, and random rows. A code
/// that differs moves an output by scale · |w| ≥ 1e-3 here, far above the bound for all but the smallest weights.
@Suite struct ONNXInputQuantizationTests {
    enum Input: String, CaseIterable, CustomTestStringConvertible {
        case dynamicPerToken, staticSymmetric, staticAsymmetric, staticAsymmetric4Bit
        var testDescription: String { rawValue }

        var quantization: ActivationQuantization {
            switch self {
            case .dynamicPerToken: return .dynamicPerToken()
            case .staticSymmetric: return ActivationQuantization(parameters: QuantizationParameters(scale: 0.25), symmetric: true)
            case .staticAsymmetric: return ActivationQuantization(parameters: QuantizationParameters(scale: 0.25, zeroPoint: 100), symmetric: false)
            case .staticAsymmetric4Bit:
                return ActivationQuantization(parameters: QuantizationParameters(scale: 0.5, zeroPoint: 6), bits: 4, symmetric: false)
            }
        }
    }

    static let (inputs, outputs) = (77, 19)

    /// Rows of ties and saturation for `a`, then random rows and a zero row.
    static func rows(for a: ActivationQuantization, rng: inout RandomGenerator) -> Tensor {
        var rows: [[Float]] = []
        if a.perToken {
            // absmax 127: scale 127 / 127 = 1 exactly, so k + ½ is a tie; two rows of opposite parity.
            func tie(_ k: Int, negative: Bool) -> Float {
                let magnitude = Float(k % 126) + 0.5
                return negative ? -magnitude : magnitude
            }
            rows.append([127] + (1..<inputs).map { tie($0, negative: $0 % 2 == 1) })
            rows.append([-127] + (1..<inputs).map { tie($0 * 7, negative: $0 % 3 == 0) })
            // A huge value sets a coarse scale; the rest round to few codes.
            rows.append((0..<inputs).map { $0 == 5 ? 3e4 : rng.nextNormal() * 100 })
        } else {
            let s = a.parameters.scale
            let lo = QuantizationNumerics.qmin(bits: a.bits, symmetric: a.symmetric) - a.parameters.zeroPoint
            let hi = QuantizationNumerics.qmax(bits: a.bits, symmetric: a.symmetric) - a.parameters.zeroPoint
            // Ties over the whole grid and half a step beyond each end, then far beyond both ends.
            let ties = (Int(lo) - 1...Int(hi)).map { (Float($0) + 0.5) * s }
            var row: [Float] = [], k = 0
            while row.count < inputs * 3 { row.append(ties[k % ties.count]); k += 1 }
            for i in stride(from: 0, to: row.count, by: 11) { row[i] = i % 2 == 0 ? -1e3 : 1e3 }
            rows += (0..<3).map { Array(row[($0 * inputs)..<(($0 + 1) * inputs)]) }
        }
        rows += (0..<4).map { _ in (0..<inputs).map { _ in rng.nextNormal() * 3 } }
        rows.append([Float](repeating: 0, count: inputs))
        return Tensor(shape: [rows.count, inputs], scalars: rows.flatMap { $0 })
    }

    @Test(arguments: Input.allCases) func quantizedInputsGetTheDeployedEnginesCodes(_ input: Input) throws {
        var rng = RandomGenerator(seed: 41)
        let mlp = MLPClassifier(MLPClassifier.Configuration(inputs: Self.inputs, hidden: [], classes: Self.outputs), rng: &rng)
        let layer = try #require(mlp.layers.first)
        let q = try RTN.quantize(layer.weight.value, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
        layer.weight.value = q.dequantized()
        let a = input.quantization
        let features = Self.rows(for: a, rng: &rng)

        let deployed = RuntimeLinear(name: "layers.0", weight: .packed(PackedWeight(q), nil), bias: layer.bias?.value.scalars, input: a)
            .with(.standard)
        if case .packed(_, let gemm) = deployed.weight {
            #expect((gemm.map { $0 is Int8GEMM } ?? false) == a.perToken, "the default kernel runs Int8GEMM exactly for dynamic per-token input")
        }
        let expected = deployed(features, kernel: .standard)

        let result = try ONNXTinyModelTests.export(
            ExportSource(model: .mlp(mlp), quantized: ["layers.0": q], activations: ["layers.0": a], provenance: ONNXTinyModelTests.provenance),
            inputs: ["features": .float32(features)], outputs: ["logits"])
        // Float summation order alone: |Δ| ≤ 1e-6 · (Σ_k |x_k · w_rk| + |b_r|) per output, where one
        // code apart moves it by scale · |w_rk|, 200× that or more for all but the smallest weights (measured ≤ 1.8e-7).
        let w = q.dequantized(), bias = layer.bias?.value.scalars ?? []
        let grid = a.apply(features)
        for (session, outputs) in [("basic optimizations", result.outputs), ("onnxruntime's default session", result.defaultOutputs)] {
            let logits = try #require(outputs["logits"]).tensor
            var worst: Float = 0, mismatches = 0
            for i in 0..<features.shape[0] {
                for r in 0..<Self.outputs {
                    var magnitude = bias.isEmpty ? 0 : abs(bias[r])
                    for k in 0..<Self.inputs { magnitude += abs(grid.scalars[i * Self.inputs + k] * w.scalars[r * Self.inputs + k]) }
                    let d = abs(logits.scalars[i * Self.outputs + r] - expected.scalars[i * Self.outputs + r])
                    worst = max(worst, d / max(magnitude, 1e-30))
                    if d > 1e-6 * magnitude { mismatches += 1 }
                }
            }
            print("ONNX input quantization \(input.rawValue), \(session): max |Δ| / Σ|x·w| \(worst)")
            #expect(mismatches == 0, "\(input.rawValue), \(session): \(mismatches) outputs differ beyond summation order (worst relative \(worst))")
        }
    }
}
