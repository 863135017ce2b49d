import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoQuant

/// QAT on a Keras graph with `learn_ranges` (LSQ on every int8 activation grid's scale,
/// `LearnedActivationGrids`) and with `teachers`.
@Suite(.serialized) struct CNNLearnedRangesTests {
    /// LSQ's step gradient on hand-made values (scale 0.5, zero point −3, so the grid spans
    /// codes −128…127 = [−62.5, 65]), worked out by hand: v = x / s, inside the grid
    /// round(v) − v (ties to even), below it qmin − z = −125, above it qmax − z = 130; summed
    /// with the output gradient and scaled by 1 / √(N · Qp), N = 3 values per example, Qp = 130.
    @Test func stepGradientIsLSQFormula() throws {
        let x = Tensor(shape: [2, 3], scalars: [0.3, -1.2, 70, -70, 2.26, 0.75])
        let g = Tensor(shape: [2, 3], scalars: [1, 2, -1, 0.5, 3, -2])
        let grads = QuantizationNumerics.lsqActivationGradients(x, scale: 0.5, zeroPoint: -3, outputGrad: g, featuresPerExample: 3)
        // local: 0.4, 0.4, 130, −125, 0.48, 0.5 (1.5 rounds to 2).
        let terms: [Double] = [1 * 0.4, 2 * 0.4, -1 * 130, 0.5 * -125, 3 * 0.48, -2 * 0.5]
        let sum = terms.reduce(0, +)
        let expected = sum / (3.0 * 130).squareRoot()
        #expect(abs(Double(grads.scale) - expected) < 1e-5 * abs(expected), "\(grads.scale) vs \(expected)")
        // Straight through inside the grid, 0 where clamped.
        #expect(grads.input.scalars == [1, 2, 0, 0, 3, -2])

        // Through `LearnedActivationGrids` on a tape: the same gradient reaches the slot's scale,
        // the forward is the grid's fake quantization, and the other slots get nothing.
        let integer = try IntegerCNN(calibrating: CNNExportTests.tinyGraph(seed: 6), features: CNNExportTests.rows(8, width: 11 * 9 * 3, seed: 3), file: "tiny")
        let learned = LearnedActivationGrids(integer)
        let slot = 1
        learned.scales.value.scalars[slot] = 0.5
        let zp = learned.zeroPoints[slot]
        let v = Variable(x, requiresGrad: true)
        let tape = Tape()
        let y = learned(v, slot: slot, tape: tape)
        tape.backward(from: tape.sum(tape.mul(y, tape.constant(g))))
        let reference = QuantizationNumerics.lsqActivationGradients(x, scale: 0.5, zeroPoint: zp, outputGrad: g, featuresPerExample: 3)
        let grad = learned.scales.grad!.scalars
        #expect(grad[slot] == reference.scale && grad.indices.allSatisfy { $0 == slot || grad[$0] == 0 })
        #expect(v.grad?.scalars == reference.input.scalars)
        let p = QuantizationParameters(scale: 0.5, zeroPoint: zp)
        #expect(y.value.scalars == x.scalars.map { QuantizationNumerics.fakeQuantize($0, p, qmin: -128, qmax: 127) })
    }

    /// Where the fake quantization is differentiable in the scale, LSQ's gradient is the true
    /// one: a clamped value is (qmin − z)·s or (qmax − z)·s, linear in s, and constant in x.
    /// Central finite differences of Σ r·x̂ over values outside the grid match the step gradient
    /// (divided by LSQ's gradient scale) and the input gradient 0. (Inside the grid the step
    /// gradient round(v) − v includes the straight-through −v, which has no finite-difference
    /// counterpart: the rounding's true derivative is 0 almost everywhere.)
    @Test func clampedPartMatchesFiniteDifferences() {
        var rng = RandomGenerator(seed: 12)
        let (s, zp): (Float, Int32) = (0.05, 40)    // grid [−8.4, 4.35]
        let above = rng.uniform(shape: [7], low: 5, high: 9).scalars, below = rng.uniform(shape: [6], low: -14, high: -9).scalars
        let x = Tensor(shape: [1, 13], scalars: above + below)
        let r = rng.uniform(shape: [1, 13], low: -1, high: 1)
        func loss(_ scale: Float, _ x: Tensor) -> Double {
            let p = QuantizationParameters(scale: scale, zeroPoint: zp)
            return zip(x.scalars, r.scalars).reduce(0) { $0 + Double($1.1) * Double(QuantizationNumerics.fakeQuantize($1.0, p, qmin: -128, qmax: 127)) }
        }
        let grads = QuantizationNumerics.lsqActivationGradients(x, scale: s, zeroPoint: zp, outputGrad: r, featuresPerExample: 13)
        let h: Float = 1e-3
        let numeric = (loss(s + h, x) - loss(s - h, x)) / Double(2 * h)
        let analytic = Double(grads.scale / QuantizationNumerics.lsqGradientScale(count: 13, positiveLevels: 127 - zp))
        #expect(abs(numeric - analytic) < 1e-3 * max(1, abs(analytic)), "numeric \(numeric), LSQ \(analytic)")
        for i in x.scalars.indices {
            var plus = x, minus = x
            plus.scalars[i] += 1e-2
            minus.scalars[i] -= 1e-2
            #expect((loss(s, plus) - loss(s, minus)) / 2e-2 == 0 && grads.input.scalars[i] == 0)
        }
    }

    /// Tensors the integer model keeps on their input's grid (max pool, a ReLU clamp) share
    /// their input's learned scale, and `IntegerCNN(calibrating:…, grids:)` builds exactly the
    /// learned grids (multipliers follow them).
    @Test func integerModelTakesTheLearnedGrids() throws {
        let model = CNNExportTests.tinyGraph(seed: 6)
        let rows = CNNExportTests.rows(16, width: 11 * 9 * 3, seed: 21)
        let integer = try IntegerCNN(calibrating: model, features: rows, file: "tiny")
        let learned = LearnedActivationGrids(integer)
        let names = integer.tensors.map(\.name)
        let (add, pool, relu) = (try #require(names.firstIndex(of: "add")), try #require(names.firstIndex(of: "pool")), try #require(names.firstIndex(of: "relu_2")))
        #expect(learned.slotOfTensor[pool] == learned.slotOfTensor[add] && learned.slotOfTensor[relu] == learned.slotOfTensor[add])
        #expect(learned.initialScales.count == integer.tensors.count - 2)
        for (i, t) in integer.tensors.enumerated() { #expect(learned.grid(slot: learned.slotOfTensor[i]) == t.grid) }
        // Move every scale, rebuild: the integer model's grids are the learned ones.
        for i in learned.scales.value.scalars.indices { learned.scales.value.scalars[i] *= 1 + 0.1 * Float(i % 3 + 1) }
        let rebuilt = try IntegerCNN(calibrating: model, features: rows, file: "tiny", grids: learned.grids)
        for (i, t) in rebuilt.tensors.enumerated() {
            #expect(t.grid == learned.grid(slot: learned.slotOfTensor[i]), "\(t.name)")
            #expect(t.grid.scale != integer.tensors[i].grid.scale, "\(t.name)")
        }
    }

    /// `qat` with `learn_ranges` through a recipe: training lowers the loss, and the integer model
    /// the stage ends with (what the report measures and C / TFLite ship) has the calibrated
    /// zero points with learned scales, not the calibrated scales (neither those of the
    /// entering model nor a recalibration of the trained one).
    @Test func qatEndsWithTheLearnedScales() throws {
        try withTemporaryDirectory { dir in
            let model = CNNExportTests.tinyGraph(seed: 6)
            let (calibration, _) = try CNNPipelineTests.writeFixture(dir, model: model)
            let yaml = """
            name: tiny-qat
            model: { path: \(dir)/tiny }
            seed: 0
            data:
              calibration: { path: \(dir)/calibration.tsv }
            evaluation:
              - { task: fidelity, data: \(dir)/eval.tsv }
            stages:
              - qat: { bits: 8, activations: true, learn_ranges: true, data: \(dir)/calibration.tsv, steps: 40, batch_size: 8, learning_rate: 0.002 }
            output: { dir: \(dir)/out, formats: [safetensors, c] }
            """
            var pipeline = try CNNPipelineTests.pipeline(yaml)
            // The C export's exporter receives the integer model the stage ended with.
            var shipped: IntegerCNN?
            let exporter = pipeline.exporter
            pipeline.exporter = { folder, compressed, recipe in
                shipped = compressed.integerCNN
                try exporter?(folder, compressed, recipe)
            }
            let report = try pipeline.run()
            let training = try #require(report.stages[1].training)
            #expect(training.finalLoss < training.firstLoss)
            let integer = try #require(shipped)
            let entering = try IntegerCNN.calibrated(model, features: calibration, file: "tiny").model
            let trained = try ModelLoader.load(path: dir + "/out", as: KerasGraphModel.self)
            let recalibrated = try IntegerCNN(calibrating: trained, features: calibration, file: "tiny", percentile: entering.activationPercentile)
            #expect(integer.tensors.map(\.grid.zeroPoint) == entering.tensors.map(\.grid.zeroPoint))
            let moved = integer.tensors.indices.filter { integer.tensors[$0].grid.scale != entering.tensors[$0].grid.scale }
            let unlikeRecalibration = integer.tensors.indices.filter { integer.tensors[$0].grid.scale != recalibrated.tensors[$0].grid.scale }
            print("tiny CNN qat learn_ranges: loss \(training.firstLoss) → \(training.finalLoss); \(moved.count) of \(integer.tensors.count) scales moved; same_top \(report.stages[1].metrics["same_top"] ?? -1)")
            #expect(moved.count == integer.tensors.count && unlikeRecalibration.count == integer.tensors.count)
            #expect((report.stages[1].metrics["kl_mean"] ?? 1) < 0.5)

            // learn_ranges without activations is refused naming the key.
            let bad = yaml.replacingOccurrences(of: "activations: true, ", with: "")
            let error = #expect(throws: PipelineError.self) { try CNNPipelineTests.pipeline(bad).run() }
            #expect(error?.description.hasPrefix("tiny.yaml: stages[0].qat.learn_ranges: ") == true, "\(error?.description ?? "")")
        }
    }

    /// `teachers` on qat: the named model is the one the student learns from. A teacher file
    /// holding the entering model gives the very losses of the default (the entering model); a
    /// different model gives a first loss far above it.
    @Test func qatLearnsFromTheNamedTeacher() throws {
        try withTemporaryDirectory { dir in
            let model = CNNExportTests.tinyGraph(seed: 6)
            _ = try CNNPipelineTests.writeFixture(dir, model: model)
            let other = CNNExportTests.tinyGraph(seed: 17)
            let folder = dir + "/other"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try ModelSpec.kerasGraph(other.configuration).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
            try SafetensorsWriter.write(TensorStore(tensors: other.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                        to: folder + "/model.safetensors")
            func run(_ teachers: String) throws -> (first: Double, final: Double) {
                let yaml = """
                name: tiny-qat
                model: { path: \(dir)/tiny }
                seed: 0
                data:
                  calibration: { path: \(dir)/calibration.tsv }
                stages:
                  - qat: { bits: 8, activations: true, \(teachers)data: \(dir)/calibration.tsv, steps: 10, batch_size: 8, learning_rate: 0.002 }
                output: { dir: \(dir)/out, formats: [safetensors] }
                """
                let training = try #require(try CNNPipelineTests.pipeline(yaml).run().stages[1].training)
                return (training.firstLoss, training.finalLoss)
            }
            let entering = try run(""), named = try run("teachers: [{ path: \(dir)/tiny }], "), different = try run("teachers: [{ path: \(folder) }], ")
            print("tiny CNN qat first / final loss: entering model \(entering), the same as a file \(named), another model \(different)")
            #expect(named == entering)
            #expect(different.first > 10 * entering.first)
        }
    }
}
