import Foundation
import Testing
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoQuant

/// QAT on a Keras graph: `IntegerCNNFakeQuantization` simulates the full-integer model on the
/// float graph (straight-through gradients), and a `qat` stage before `quantize` trains with it.
@Suite(.serialized) struct CNNQATTests {
    /// Forward: every element on its grid (`QuantizationNumerics.fakeQuantize`). Backward: the
    /// straight-through estimator, which has no finite-difference counterpart (the rounding's
    /// true derivative is 0 almost everywhere): activations pass the gradient exactly where the
    /// value lies inside the grid's range, weights everywhere.
    @Test func fakeQuantizationIsStraightThrough() throws {
        var rng = RandomGenerator(seed: 5)
        let x = Variable(rng.uniform(shape: [4, 3, 5], low: -3, high: 3), requiresGrad: true)
        let r = rng.uniform(shape: [4, 3, 5], low: -1, high: 1)
        let grid = FixedPoint.int8Grid(min: -1.5, max: 2)
        let tape = Tape()
        let y = IntegerCNNFakeQuantization.activations(x, grid: grid, tape: tape)
        tape.backward(from: tape.sum(tape.mul(y, tape.constant(r))))
        let lower = QuantizationNumerics.dequantize(-128, grid), upper = QuantizationNumerics.dequantize(127, grid)
        for i in x.value.scalars.indices {
            let v = x.value.scalars[i]
            #expect(y.value.scalars[i] == QuantizationNumerics.fakeQuantize(v, grid, qmin: -128, qmax: 127))
            #expect(x.grad?.scalars[i] == (v >= lower && v <= upper ? r.scalars[i] : 0))
        }
        #expect(x.value.scalars.contains { $0 < lower } && x.value.scalars.contains { $0 > upper }, "both clamps exercised")

        // A kernel [kh, kw, in, out]: one symmetric scale per output channel (the last axis).
        let w = Variable(rng.uniform(shape: [3, 3, 2, 4], low: -0.7, high: 0.7), requiresGrad: true)
        let tape2 = Tape()
        let q = IntegerCNNFakeQuantization.weights(w, channels: 4, channel: { $0 % 4 }, tape: tape2)
        let rw = rng.uniform(shape: w.shape, low: -1, high: 1)
        tape2.backward(from: tape2.sum(tape2.mul(q, tape2.constant(rw))))
        #expect(w.grad?.scalars == rw.scalars)
        let rows = Tensor(shape: [4, 18]) { i in w.value.scalars[(i % 18) * 4 + i / 18] }
        let rtn = try RTN.quantize(rows, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)).dequantized()
        for i in w.value.scalars.indices { #expect(q.value.scalars[i] == rtn.scalars[(i % 4) * 18 + i / 4]) }
    }

    /// The hooks QAT uses (`Conv2D.kernelTransform`, `DepthwiseConv2D`'s kernel and middle
    /// transforms) put their op on the tape: with a differentiable op in them (x ↦ x²), the
    /// gradients of the input and of every kernel match central finite differences.
    @Test func transformHooksCarryGradients() {
        var rng = RandomGenerator(seed: 9)
        let conv = Conv2D(kernel: rng.uniform(shape: [3, 3, 2, 3], low: -0.5, high: 0.5), bias: rng.uniform(shape: [3], low: -0.1, high: 0.1),
                          geometry: Conv2DGeometry(kernel: (3, 3), strides: (1, 2), padding: .same))
        let separable = DepthwiseConv2D(depthwiseKernel: rng.uniform(shape: [3, 3, 3, 2], low: -0.5, high: 0.5),
                                        pointwiseKernel: rng.uniform(shape: [1, 1, 6, 4], low: -0.5, high: 0.5), bias: nil,
                                        geometry: Conv2DGeometry(kernel: (3, 3), dilation: (2, 1), padding: .same))
        let square: (Variable, Tape) -> Variable = { v, tape in tape.mul(v, v) }
        conv.kernelTransform = square
        separable.depthwiseKernelTransform = square
        separable.pointwiseKernelTransform = square
        separable.middleTransform = square
        let x = rng.uniform(shape: [2, 7, 6, 2], low: -1, high: 1)
        let result = checkGradients([x], parameters: [conv.kernel, separable.depthwiseKernel, separable.pointwiseKernel!]) { tape, v in
            separable(conv(v[0], tape: tape), tape: tape)
        }
        #expect(result.passed, "\(result)")
    }

    /// With the simulation installed, the float graph's logits sit much closer to the integer
    /// model's than the plain float graph's do: QAT trains against what `quantize` builds.
    @Test func simulationTracksTheIntegerModel() throws {
        let model = CNNExportTests.tinyGraph(seed: 6)
        let width = 11 * 9 * 3
        let calibration = CNNExportTests.rows(24, width: width, seed: 21), evaluation = CNNExportTests.rows(40, width: width, seed: 22)
        let integer = try IntegerCNN(calibrating: model, features: calibration, file: "tiny")
        func logits() -> [Float] {
            model.classLogits(Variable(Tensor(shape: [evaluation.count, width], scalars: evaluation.flatMap { $0 })), tape: Tape(recording: false)).value.scalars
        }
        let reference = evaluation.flatMap { integer.dequantizedLogits($0) }
        let plain = logits()
        let installed = IntegerCNNFakeQuantization.install(integer, on: model)
        #expect(installed.kernels == 6 && installed.activations == integer.tensors.count, "\(installed)")
        let simulated = logits()
        IntegerCNNFakeQuantization.remove(from: model)
        #expect(logits() == plain, "remove restores the float graph")
        func meanAbs(_ a: [Float]) -> Double { zip(a, reference).map { Double(abs($0 - $1)) }.reduce(0, +) / Double(a.count) }
        let (dPlain, dSim) = (meanAbs(plain), meanAbs(simulated))
        print(String(format: "tiny CNN logits vs the integer model: float %.5f, simulated %.5f (mean |Δ|)", dPlain, dSim))
        #expect(dSim < 0.5 * dPlain, "simulated \(dSim), float \(dPlain)")
    }

    /// `qat` (activations on) through a recipe: the training lowers its loss, shapes stay, and the
    /// stage ends with the integer model of the trained weights (the report's flash and RAM).
    @Test func qatThroughARecipeEndsWithTheIntegerModel() throws {
        try withTemporaryDirectory { dir in
            let model = CNNExportTests.tinyGraph(seed: 6)
            _ = try CNNPipelineTests.writeFixture(dir, model: model)
            let yaml = """
            name: tiny-qat
            model: { path: \(dir)/tiny }
            seed: 0
            data:
              calibration: { path: \(dir)/calibration.tsv }
            evaluation:
              - { task: fidelity, data: \(dir)/eval.tsv }
            stages:
              - qat: { bits: 8, activations: true, augment: true, data: \(dir)/calibration.tsv, steps: 40, batch_size: 8, learning_rate: 0.002 }
            output: { dir: \(dir)/out, formats: [safetensors] }
            """
            let report = try CNNPipelineTests.pipeline(yaml).run()
            let (base, int8) = (report.stages[0], report.stages[1])
            let training = try #require(int8.training)
            print("tiny CNN qat: loss \(training.firstLoss) → \(training.finalLoss); int8 same_top \(int8.metrics["same_top"] ?? -1) kl_mean \(int8.metrics["kl_mean"] ?? -1)")
            #expect(training.steps == 40 && training.finalLoss < training.firstLoss)
            #expect(int8.parameters == base.parameters)
            #expect(base.flashBytes == nil && (int8.flashBytes ?? 0) > 0 && (int8.ramBytes ?? 0) > 0)
            #expect((int8.metrics["kl_mean"] ?? 1) < 0.5)

            // Settings the integer model cannot train toward are refused naming the key.
            for (options, key) in [("bits: 4", "bits"), ("bits: 8, lsq: true", "lsq"), ("bits: 8, group_size: 4", "group_size")] {
                let bad = yaml.replacingOccurrences(of: "bits: 8, activations: true", with: options + ", activations: true")
                let error = #expect(throws: PipelineError.self) { try CNNPipelineTests.pipeline(bad).run() }
                #expect(error?.description.hasPrefix("tiny.yaml: stages[0].qat.\(key): ") == true, "\(error?.description ?? "")")
            }
        }
    }
}
