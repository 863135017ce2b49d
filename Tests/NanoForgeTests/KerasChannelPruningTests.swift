import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoForge

/// Channel pruning of Keras graphs (`prune_structured` with `channel_ratio`) and recovery by
/// distillation (`distill` with `augment`), on a small residual graph: conv → BN → ReLU →
/// separable → BN, added to a 1×1 shortcut conv of the input, then a depthwise conv, pooling and
/// a Dense classifier.
@Suite(.serialized) struct KerasChannelPruningTests {
    static let inputShape = [8, 7, 2]
    static var width: Int { inputShape.reduce(1, *) }

    static func graph(seed: UInt64) -> KerasGraphModel {
        func layer(_ name: String, _ kind: KerasLayer.Kind, _ inputs: [String], _ configure: (inout KerasLayer) -> Void = { _ in }) -> KerasLayer {
            var l = KerasLayer(name: name, kind: kind, inputs: inputs)
            configure(&l)
            return l
        }
        let layers = [
            layer("input_1", .input, []),
            layer("conv_a", .conv2d, ["input_1"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.filters = 6 },
            layer("bn_a", .batchNormalization, ["conv_a"]) { $0.epsilon = 1e-3 },
            layer("relu_a", .activation, ["bn_a"]) { $0.activation = .relu },
            layer("sep_b", .separableConv2d, ["relu_a"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.filters = 6 },
            layer("bn_b", .batchNormalization, ["sep_b"]) { $0.epsilon = 1e-3 },
            layer("res", .conv2d, ["input_1"]) { $0.kernel = [1, 1]; $0.strides = [1, 1]; $0.padding = .same; $0.filters = 6 },
            layer("add", .add, ["bn_b", "res"]),
            layer("dw", .depthwiseConv2d, ["add"]) { $0.kernel = [3, 3]; $0.strides = [1, 1]; $0.padding = .same; $0.depthMultiplier = 1 },
            layer("relu_c", .activation, ["dw"]) { $0.activation = .relu },
            layer("pool", .maxPool2d, ["relu_c"]) { $0.kernel = [2, 2]; $0.strides = [2, 2]; $0.padding = .valid },
            layer("gap", .globalAvgPool2d, ["pool"]),
            layer("dense", .dense, ["gap"]) { $0.filters = 3 },
            layer("predictions", .activation, ["dense"]) { $0.activation = .softmax },
        ]
        let c = KerasGraphConfiguration(name: "residual", inputShape: inputShape, layers: layers, output: "predictions")
        var rng = RandomGenerator(seed: seed)
        let model = KerasGraphModel(c, rng: &rng)
        // Non-zero biases and BatchNormalization statistics far from the identity, as trained.
        for (_, module) in model.modules {
            for (_, v) in module.namedParameters where v.value.rank == 1 {
                v.value = rng.uniform(shape: v.value.shape, low: 0.2, high: 1.5)
            }
        }
        return model
    }

    /// Sets channel j along `axis` of `v` to zero.
    static func zero(_ v: Variable?, axis: Int, _ j: Int) {
        guard let v else { return }
        let shape = v.value.shape
        let inner = shape[(axis + 1)...].reduce(1, *), n = shape[axis]
        var s = v.value.scalars
        for i in s.indices where (i / inner) % n == j { s[i] = 0 }
        v.value = Tensor(shape: shape, scalars: s)
    }

    /// The graph with channels {0, 5} of conv_a's group and {1, 4} of the residual group writing
    /// zeros (filters, biases and BatchNormalization shifts), so removing them changes nothing.
    static func graphWithDeadChannels(seed: UInt64) -> KerasGraphModel {
        let model = graph(seed: seed)
        let m = Dictionary(model.modules, uniquingKeysWith: { a, _ in a })
        let convA = m["conv_a"] as! Conv2D, bnA = m["bn_a"] as! BatchNormalization
        let sepB = m["sep_b"] as! DepthwiseConv2D, bnB = m["bn_b"] as! BatchNormalization
        let res = m["res"] as! Conv2D, dw = m["dw"] as! DepthwiseConv2D
        for j in [0, 5] {
            zero(convA.kernel, axis: 3, j); zero(convA.bias, axis: 0, j)
            zero(bnA.beta, axis: 0, j); zero(bnA.movingMean, axis: 0, j)
        }
        for j in [1, 4] {
            zero(sepB.pointwiseKernel, axis: 3, j); zero(sepB.bias, axis: 0, j)
            zero(bnB.beta, axis: 0, j); zero(bnB.movingMean, axis: 0, j)
            zero(res.kernel, axis: 3, j); zero(res.bias, axis: 0, j)
            zero(dw.bias, axis: 0, j)
        }
        return model
    }

    static func rows(_ n: Int, seed: UInt64) -> [[Float]] {
        var rng = RandomGenerator(seed: seed)
        return (0..<n).map { _ in rng.uniform(shape: [width], low: -1, high: 1).scalars }
    }

    static func logits(_ model: any ClassLogitsModel, _ rows: [[Float]]) -> [Float] {
        model.classLogits(Variable(Tensor(shape: [rows.count, width], scalars: rows.flatMap { $0 })), tape: Tape(recording: false)).value.scalars
    }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func groupsJoinResidualBranchesAndFixTheOutput() throws {
        let model = Self.graph(seed: 1)
        let c = model.configuration
        let groups = KerasChannelGroups(c, shapes: try KerasGraphShapes.infer(c, file: "residual"))
        let residual = try #require(groups.groupOf["add"])
        #expect(groups.groups[residual].producers == ["sep_b", "res"])
        #expect(groups.groups[residual].members == ["sep_b", "bn_b", "res", "add", "dw", "relu_c", "pool", "gap"])
        #expect(groups.groups[residual].fixedBecause == nil)
        #expect(groups.groups[try #require(groups.groupOf["relu_a"])].producers == ["conv_a"])
        #expect(groups.groups[try #require(groups.groupOf["input_1"])].fixedBecause != nil)
        #expect(groups.groups[try #require(groups.groupOf["predictions"])].fixedBecause?.contains("output") == true)
    }

    @Test(arguments: [UInt64(2), 3]) func removingDeadChannelsKeepsTheFunction(_ seed: UInt64) throws {
        let model = Self.graphWithDeadChannels(seed: seed)
        let images = Self.rows(12, seed: seed + 100)
        let before = Self.logits(model, images)
        let c = model.configuration
        let groups = KerasChannelGroups(c, shapes: try KerasGraphShapes.infer(c, file: "residual"))
        let folded = KerasBatchNormFolding.fold(model).model
        var kept: [Int: [Int]] = [:]
        for (g, group) in groups.groups.enumerated() where group.fixedBecause == nil {
            kept[g] = StructuredPruning.keptIndices(importance: KerasChannelPruning.importance(of: group, folded: folded), ratio: 0.34)
        }
        #expect(kept[groups.groupOf["relu_a"]!] == [1, 2, 3, 4], "the zero channels rank lowest")
        #expect(kept[groups.groupOf["add"]!] == [0, 2, 3, 5])
        let changes = KerasChannelPruning.apply(to: model, groups: groups, kept: kept)
        model.recordLayerWidths()
        #expect(changes.map(\.after) == [4, 4])
        let widths = Dictionary(uniqueKeysWithValues: model.configuration.layers.compactMap { l in l.filters.map { (l.name, $0) } })
        #expect(widths == ["conv_a": 4, "sep_b": 4, "res": 4, "dense": 3])
        let shapes = try KerasGraphShapes.infer(model.configuration, file: "residual")
        #expect(shapes["add"] == [8, 7, 4] && shapes["gap"] == [4])
        let after = Self.logits(model, images)
        let difference = Self.maxDifference(before, after)
        print("dead channels removed (seed \(seed)): \(model.parameterCount) parameters, max |Δ logits| \(difference)")
        #expect(difference < 1e-5)
    }

    @Test func liveChannelsChangeTheFunction() throws {
        // The same pruning of channels that write something must show in the logits (the test above can fail).
        let model = Self.graph(seed: 4)
        let images = Self.rows(12, seed: 104)
        let before = Self.logits(model, images)
        let c = model.configuration
        let groups = KerasChannelGroups(c, shapes: try KerasGraphShapes.infer(c, file: "residual"))
        _ = KerasChannelPruning.apply(to: model, groups: groups, kept: [groups.groupOf["add"]!: [0, 2, 3, 5]])
        #expect(Self.maxDifference(before, Self.logits(model, images)) > 1e-3)
    }

    @Test func recalibratedStatisticsAreThoseOfTheInputs() throws {
        let model = Self.graph(seed: 9)
        let images = Self.rows(10, seed: 109)
        let layers = KerasBatchNormRecalibration.apply(to: model, images: images)
        #expect(layers == ["bn_a", "bn_b"])
        let x = Variable(Tensor(shape: [images.count] + Self.inputShape, scalars: images.flatMap { $0 }))
        let values = model.outputs(x, tape: Tape(recording: false))
        for (bnName, inputName) in [("bn_a", "conv_a"), ("bn_b", "sep_b")] {
            let bn = try #require(model.modules.first { $0.name == bnName }?.module as? BatchNormalization)
            let v = try #require(values[inputName]).value.scalars
            let c = bn.channels, n = Float(v.count / c)
            for j in 0..<c {
                let channel = stride(from: j, to: v.count, by: c).map { v[$0] }
                let mean = channel.reduce(0, +) / n
                let variance = channel.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / n
                #expect(abs(bn.movingMean.value.scalars[j] - mean) <= 1e-4 * max(1, abs(mean)), "\(bnName)[\(j)] mean")
                #expect(abs(bn.movingVariance.value.scalars[j] - variance) <= 1e-3 * max(1, variance), "\(bnName)[\(j)] variance")
            }
        }
    }

    // MARK: through a recipe

    static func writeFixture(_ dir: String, model: KerasGraphModel) throws -> (calibration: [[Float]], evaluation: [[Float]]) {
        let folder = dir + "/residual"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ModelSpec.kerasGraph(model.configuration).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: folder + "/model.safetensors")
        let calibration = rows(16, seed: 21), evaluation = rows(40, seed: 22)
        func lines(_ rows: [[Float]]) -> String {
            rows.enumerated().map { i, r in "img_\(i)\t" + r.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
        }
        try lines(calibration).write(toFile: dir + "/calibration.tsv", atomically: true, encoding: .utf8)
        try lines(evaluation).write(toFile: dir + "/eval.tsv", atomically: true, encoding: .utf8)
        return (calibration, evaluation)
    }

    static func recipe(_ dir: String, stages: String) -> String {
        """
        name: residual-pruned
        model: { path: \(dir)/residual }
        seed: 0
        data:
          calibration: { path: \(dir)/calibration.tsv }
        evaluation:
          - { task: fidelity, data: \(dir)/eval.tsv }
        stages:
        \(stages)
        output: { dir: \(dir)/out, formats: [safetensors] }
        """
    }

    @Test func prunedModelIsSavedAndReloads() throws {
        try withTemporaryDirectory { dir in
            let model = Self.graphWithDeadChannels(seed: 5)
            let (_, evaluation) = try Self.writeFixture(dir, model: model)
            var log: [String] = []
            let report = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, stages: "  - prune_structured: { channel_ratio: 0.34 }"), file: "p.yaml"),
                                      progress: { log.append($0) }).run()
            #expect(report.stages[1].metrics["same_top"] == 1)
            let summary = log.first { $0.hasPrefix("stage 1/1: channels") } ?? "\(log)"
            #expect(summary.contains("conv_a 6→4") && summary.contains("sep_b+res 6→4"), "\(summary)")
            let reloaded = try EvaluatedModel.load(path: dir + "/out", recipe: "p.yaml").model
            let graph = try #require(reloaded.as(KerasGraphModel.self))
            #expect(graph.configuration.layer("sep_b")?.filters == 4 && graph.configuration.layer("res")?.filters == 4)
            let difference = Self.maxDifference(Self.logits(model, evaluation), Self.logits(try #require(reloaded.classifier), evaluation))
            #expect(difference < 1e-5, "reloaded pruned model vs the original: \(difference)")
        }
    }

    @Test func distillationRecoversThePrunedModel() throws {
        try withTemporaryDirectory { dir in
            _ = try Self.writeFixture(dir, model: Self.graph(seed: 6))
            let stages = """
              - prune_structured: { channel_ratio: 0.5 }
              - distill: { teachers: [{ path: \(dir)/residual }], losses: [{ loss: logit_kl }], data: \(dir)/calibration.tsv, steps: 40, batch_size: 8, learning_rate: 0.003, augment: true }
            """
            var log: [String] = []
            let report = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, stages: stages), file: "d.yaml"), progress: { log.append($0) }).run()
            let pruned = try #require(report.stages[1].metrics["kl_mean"]), recovered = try #require(report.stages[2].metrics["kl_mean"])
            print("residual graph, half the channels pruned: kl_mean \(pruned) → \(recovered) after distillation; "
                  + (log.first { $0.hasPrefix("stage 2/2: student") } ?? ""))
            #expect(pruned > 0 && recovered < 0.5 * pruned)
            #expect(report.stages[2].parameters == report.stages[1].parameters && report.stages[1].parameters < report.stages[0].parameters)
        }
    }

    // MARK: refusals

    @Test func refusesWhatCannotBePruned() throws {
        try withTemporaryDirectory { dir in
            _ = try Self.writeFixture(dir, model: Self.graph(seed: 7))
            func failure(_ stage: String) -> String {
                do { _ = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, stages: "  - " + stage), file: "r.yaml")).run() } catch {
                    return "\(error)"
                }
                return "no error"
            }
            let mixed = failure("prune_structured: { channel_ratio: 0.5, ignore: [res] }")
            #expect(mixed.contains("sep_b and res write the same channels"), "\(mixed)")
            let ffn = failure("prune_structured: { ffn_ratio: 0.5 }")
            #expect(ffn.contains("ffn_ratio applies to transformer blocks"), "\(ffn)")
            let activation = failure("prune_structured: { channel_ratio: 0.5, method: activation }")
            #expect(activation.contains("not implemented for convolutions"), "\(activation)")
            let task = failure("distill: { losses: [{ loss: task }], data: \(dir)/calibration.tsv, steps: 1 }")
            #expect(task.contains("logit_kl"), "\(task)")
        }
    }

    @Test func refusesChannelsThatFlattenMixesWithPositions() throws {
        var rng = RandomGenerator(seed: 8)
        var conv = KerasLayer(name: "conv", kind: .conv2d, inputs: ["input_1"])
        conv.kernel = [3, 3]; conv.strides = [1, 1]; conv.padding = .valid; conv.filters = 4
        var dense = KerasLayer(name: "dense", kind: .dense, inputs: ["flatten"])
        dense.filters = 2
        let c = KerasGraphConfiguration(name: "flat", inputShape: [5, 5, 1], layers: [
            KerasLayer(name: "input_1", kind: .input, inputs: []), conv,
            KerasLayer(name: "flatten", kind: .flatten, inputs: ["conv"]), dense,
        ], output: "dense")
        let model = KerasGraphModel(c, rng: &rng)
        try withTemporaryDirectory { dir in
            let folder = dir + "/residual"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try ModelSpec.kerasGraph(c).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
            try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                        to: folder + "/model.safetensors")
            let line = "a\t" + (0..<25).map { "\(Float($0) / 25)" }.joined(separator: ",") + "\n"
            try line.write(toFile: dir + "/calibration.tsv", atomically: true, encoding: .utf8)
            try line.write(toFile: dir + "/eval.tsv", atomically: true, encoding: .utf8)
            #expect {
                _ = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, stages: "  - prune_structured: { channel_ratio: 0.5 }"), file: "f.yaml")).run()
            } throws: { error in
                let text = "\(error)"
                return text.contains("no selected convolution can lose channels") && text.contains("Flatten 'flatten'")
            }
        }
    }
}

/// The recovery's image augmentation against a plain reading of what it promises.
@Suite struct ImageAugmentationTests {
    @Test func withoutShiftScaleOrMixItOnlyFlips() {
        var augmentation = ImageAugmentation()
        (augmentation.maxShift, augmentation.maxScale, augmentation.maxOffset, augmentation.mixProbability) = (0, 0, 0, 0)
        let (h, w, c) = (3, 5, 2)
        let image = (0..<(h * w * c)).map { Float($0) }
        var mirrored = [Float](repeating: 0, count: image.count)
        for y in 0..<h { for x in 0..<w { for k in 0..<c { mirrored[(y * w + x) * c + k] = image[(y * w + (w - 1 - x)) * c + k] } } }
        var rng = RandomGenerator(seed: 3)
        var seen = Set<[Float]>()
        for _ in 0..<20 {
            let out = augmentation.draw(0, of: [image, mirrored], height: h, width: w, channels: c, rng: &rng)
            #expect(out == image || out == mirrored)
            seen.insert(out)
        }
        #expect(seen.count == 2, "both orientations are drawn")
    }

    @Test func shiftsRepeatTheEdgeAndStayInRange() {
        var augmentation = ImageAugmentation()
        augmentation.mixProbability = 0
        let (h, w) = (6, 7)
        let image = (0..<(h * w)).map { Float($0 % w) / Float(w) }   // each row 0 … 6/7
        var rng = RandomGenerator(seed: 4)
        for _ in 0..<20 {
            let out = augmentation.apply(image, height: h, width: w, channels: 1, rng: &rng)
            // A horizontal ramp stays monotone along each row (flip reverses it), every row equal
            // (vertical shifts repeat rows), within the scale and offset bounds.
            for y in 1..<h { #expect(Array(out[(y * w)..<((y + 1) * w)]) == Array(out[0..<w])) }
            let row = Array(out[0..<w])
            #expect(row == row.sorted() || row == row.sorted(by: >))
            #expect(out.allSatisfy { $0 >= -0.1 - 1e-6 && $0 <= 1.1 * 6 / 7 + 0.1 + 1e-6 })
        }
    }

    @Test func samePlaceSameDraws() {
        let images = KerasChannelPruningTests.rows(4, seed: 9)
        let shape = KerasChannelPruningTests.inputShape
        var a = RandomGenerator(seed: 11), b = RandomGenerator(seed: 11)
        let augmentation = ImageAugmentation()
        #expect(augmentation.draw(2, of: images, height: shape[0], width: shape[1], channels: shape[2], rng: &a)
                == augmentation.draw(2, of: images, height: shape[0], width: shape[1], channels: shape[2], rng: &b))
    }
}
