import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoExport
@testable import NanoQuant

/// A Keras CNN through a recipe (the shape of Recipes/fer-int8-mcu.yaml) on the tiny random graph
/// of `CNNExportTests`: `quantize` folds BatchNorm and builds the full-integer model, the report's
/// agreement and KL are exactly `IntegerCNN`'s on the same images, and the C that `output.formats`
/// writes computes that same model.
@Suite(.serialized) struct CNNPipelineTests {
    static let width = 11 * 9 * 3

    /// The graph as a nanoforge folder (native config + safetensors), calibration and evaluation
    /// images as `name<TAB>values` lines.
    static func writeFixture(_ dir: String, model: KerasGraphModel) throws -> (calibration: [[Float]], evaluation: [[Float]]) {
        let folder = dir + "/tiny"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try ModelSpec.kerasGraph(model.configuration).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        try SafetensorsWriter.write(TensorStore(tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: folder + "/model.safetensors")
        let calibration = CNNExportTests.rows(24, width: width, seed: 21), evaluation = CNNExportTests.rows(40, width: width, seed: 22)
        func lines(_ rows: [[Float]]) -> String {
            rows.enumerated().map { i, r in "img_\(i)\t" + r.map { "\($0)" }.joined(separator: ",") }.joined(separator: "\n") + "\n"
        }
        try lines(calibration).write(toFile: dir + "/calibration.tsv", atomically: true, encoding: .utf8)
        try lines(evaluation).write(toFile: dir + "/eval.tsv", atomically: true, encoding: .utf8)
        return (calibration, evaluation)
    }

    static func recipe(_ dir: String, quantize: String, formats: String = "[safetensors, c]") -> String {
        """
        name: tiny-int8
        model: { path: \(dir)/tiny }
        data:
          calibration: { path: \(dir)/calibration.tsv }
        evaluation:
          - { task: fidelity, data: \(dir)/eval.tsv }
        stages:
          - quantize: \(quantize)
        output: { dir: \(dir)/out, formats: \(formats) }
        """
    }

    /// What the CLI wires in, but with no calibration rows: the C export must take the stage's
    /// integer model as it is.
    static func pipeline(_ yaml: String) throws -> Pipeline {
        var pipeline = Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml"))
        pipeline.exporter = { folder, compressed, recipe in
            try ModelExporter.write(compressed, formats: recipe.output.formats.map(\.rawValue), calibration: nil, into: folder)
        }
        return pipeline
    }

    @Test func reportMeasuresTheIntegerModelTheCExportComputes() throws {
        try withTemporaryDirectory { dir in
            let model = CNNExportTests.tinyGraph(seed: 6)
            let (calibration, evaluation) = try Self.writeFixture(dir, model: model)
            let yaml = Self.recipe(dir, quantize: "{ bits: 8, granularity: channel, activations: { observer: percentile, percentile: 99.99 } }")
            let report = try Self.pipeline(yaml).run()
            let (base, int8) = (report.stages[0], report.stages[1])

            let expected = try IntegerCNN(calibrating: model, features: calibration, file: "tiny", percentile: 99.99)
            let f = expected.fidelity(to: model, images: evaluation)
            print("tiny CNN through a recipe: same_top \(int8.metrics["same_top"] ?? -1) (IntegerCNN \(f.agreement)), "
                  + "kl_mean \(int8.metrics["kl_mean"] ?? -1) (IntegerCNN \(f.meanKL)), size \(base.sizeBytes) → \(int8.sizeBytes) bytes")
            #expect(base.metrics["same_top"] == 1 && base.metrics["kl_mean"] == 0, "the baseline is the reference")
            #expect(int8.metrics["same_top"] == f.agreement)
            let kl = try #require(int8.metrics["kl_mean"])
            #expect(kl > 0 && abs(kl - f.meanKL) <= 1e-6 * f.meanKL, "report \(kl), IntegerCNN \(f.meanKL)")
            let bytes = expected.constantBytes
            #expect(int8.sizeBytes == bytes.weights + bytes.biases + bytes.multipliers + bytes.shifts)
            #expect(int8.sizeBytes * 2 < base.sizeBytes, "int8 tables beside fp32 weights")
            // One layer row per integer convolution, a separable's two halves apart.
            #expect(report.layers.map(\.name) == ["conv", "depthwise", "separable/depthwise", "separable", "shortcut", "dense"])
            #expect(report.layers.allSatisfy { $0.bits == 8 && $0.activationBits == 8 })
            #expect(report.layers.allSatisfy { ($0.relativeWeightError ?? 1) > 0 && ($0.relativeWeightError ?? 1) < 0.02 },
                    "\(report.layers.map { $0.relativeWeightError ?? -1 })")

            // The C written beside the model, compiled, gives IntegerCNN's logits bit for bit.
            let c = dir + "/out/c"
            try CExportTests.mainSource.write(toFile: c + "/main.c", atomically: true, encoding: .utf8)
            try CExportTests.dataHeader(evaluation).write(toFile: c + "/data.h", atomically: true, encoding: .utf8)
            let compile = try CommandRunner.run("/usr/bin/env", ["gcc"] + CExportTests.compilerFlags + [c + "/main.c", c + "/model.c", "-o", c + "/test"])
            try #require(compile.status == 0, "gcc failed:\n\(compile.stderr)")
            let run = try CommandRunner.run(c + "/test", [])
            let logits = run.stdout.split(separator: "\n").map { $0.split(separator: " ").compactMap { Int($0) }.dropFirst().map { Int8($0) } }
            #expect(logits == evaluation.map { expected.logits(expected.quantizeInput($0)) })

            // The report's flash and RAM are model.h's; the baseline has no integer model.
            let header = try String(contentsOfFile: c + "/model.h", encoding: .utf8)
            func define(_ name: String) -> Int? {
                header.split(separator: "\n").first { $0.hasPrefix("#define \(name) ") }.flatMap { Int($0.split(separator: " ").last ?? "") }
            }
            #expect(int8.flashBytes == define("NANOFORGE_MODEL_FLASH_BYTES") && int8.flashBytes == int8.sizeBytes)
            #expect(int8.ramBytes == define("NANOFORGE_MODEL_RAM_BYTES") && (int8.ramBytes ?? 0) > 0)
            #expect(base.flashBytes == nil && base.ramBytes == nil)
            let markdown = MarkdownReport.render(report)
            #expect(markdown.contains("| flash (bytes) | RAM (bytes) |") && markdown.contains("| \(int8.flashBytes ?? -1) | \(int8.ramBytes ?? -1) |"))

            // model.safetensors holds the float graph as it was loaded (the pass keeps shapes).
            let reloaded = try ModelLoader.load(path: dir + "/out", as: KerasGraphModel.self)
            #expect(reloaded.configuration.layers.map(\.name) == model.configuration.layers.map(\.name))
            #expect(reloaded.namedParameters.map(\.name) == model.namedParameters.map(\.name))
            #expect(zip(reloaded.namedParameters, model.namedParameters).allSatisfy { $0.variable.value.scalars == $1.variable.value.scalars })
        }
    }

    /// `method: gptq` builds the integer model with GPTQ's codes (`GPTQ.convolutionRounding`), and
    /// the report measures exactly that model.
    @Test func gptqStageMeasuresTheGPTQIntegerModel() throws {
        try withTemporaryDirectory { dir in
            let model = CNNExportTests.tinyGraph(seed: 6)
            let (calibration, evaluation) = try Self.writeFixture(dir, model: model)
            let yaml = Self.recipe(dir, quantize: "{ method: gptq, damping: 0.02, activations: { observer: percentile, percentile: 99.99 } }",
                                   formats: "[safetensors]")
            let report = try Self.pipeline(yaml).run()
            let int8 = report.stages[1]
            let expected = try IntegerCNN(calibrating: model, features: calibration, file: "tiny", percentile: 99.99,
                                          rounding: GPTQ.convolutionRounding(dampingFraction: 0.02))
            let rtn = try IntegerCNN(calibrating: model, features: calibration, file: "tiny", percentile: 99.99)
            let f = expected.fidelity(to: model, images: evaluation), fr = rtn.fidelity(to: model, images: evaluation)
            print("tiny CNN, GPTQ: same_top \(f.agreement) kl_mean \(f.meanKL); RTN: same_top \(fr.agreement) kl_mean \(fr.meanKL)")
            #expect(int8.metrics["same_top"] == f.agreement)
            let kl = try #require(int8.metrics["kl_mean"])
            #expect(abs(kl - f.meanKL) <= 1e-6 * f.meanKL, "report \(kl), IntegerCNN \(f.meanKL)")
            #expect(int8.flashBytes == expected.flashBytes && int8.ramBytes == expected.ramBytes)
            let weights = { (m: IntegerCNN) in m.operations.compactMap { op -> [Int8]? in
                if case .convolution(let c) = op.kind { return c.weights } else { return nil } } }
            #expect(weights(expected) != weights(rtn), "GPTQ chose other codes than RTN")
        }
    }

    /// Settings the integer CNN cannot honour, and a layer it has no kernel for, stop the run
    /// with one line naming the recipe key (or the layer and file).
    @Test func badCNNRecipesNameTheField() throws {
        try withTemporaryDirectory { dir in
            _ = try Self.writeFixture(dir, model: CNNExportTests.tinyGraph(seed: 6))
            let cases: [(quantize: String, field: String)] = [
                ("{ ggml_type: q8_0 }", "stages[0].quantize.ggml_type: a Keras convolutional graph is quantized full-integer"),
                ("{ bits: 4, activations: { observer: minmax } }", "stages[0].quantize.bits: "),
                ("{ bits: 8 }", "stages[0].quantize.activations: "),
                ("{ activations: { mode: dynamic } }", "stages[0].quantize.activations.mode: "),
                ("{ activations: { observer: mse } }", "stages[0].quantize.activations.observer: "),
                ("{ ignore: [dense], activations: { observer: minmax } }", "stages[0].quantize.ignore: "),
            ]
            for (quantize, field) in cases {
                let error = #expect(throws: PipelineError.self, "\(quantize)") { try Self.pipeline(Self.recipe(dir, quantize: quantize)).run() }
                let text = error?.description ?? ""
                #expect(text.hasPrefix("tiny.yaml: " + field), "\(quantize): \(text)")
                #expect(!text.contains("\n"), "one line: \(text)")
            }
            #expect(!FileManager.default.fileExists(atPath: dir + "/out"), "a failed run writes no output")

            // Per-layer bit widths have no int8-only deployment: mixed_precision is refused, in one line.
            let mixed = Self.recipe(dir, quantize: "{ activations: { observer: minmax } }")
                .replacingOccurrences(of: "  - quantize: { activations: { observer: minmax } }",
                                      with: "  - mixed_precision: { candidates: [4, 8], budget: { average_bits: 6 } }")
            let refusal = #expect(throws: PipelineError.self) { try Self.pipeline(mixed).run() }
            #expect(refusal?.description.hasPrefix("tiny.yaml: stages[0].mixed_precision: a Keras convolutional graph is quantized full-integer int8") == true,
                    "\(refusal?.description ?? "")")

            // An AveragePooling2D has a float kernel but no integer one.
            var c = CNNExportTests.tinyGraph(seed: 6).configuration
            c.layers[c.layers.firstIndex { $0.name == "pool" }!].kind = .avgPool2d
            var rng = RandomGenerator(seed: 3)
            _ = try Self.writeFixture(dir, model: KerasGraphModel(c, rng: &rng))
            let error = #expect(throws: PipelineError.self) {
                try Self.pipeline(Self.recipe(dir, quantize: "{ activations: { observer: minmax } }")).run()
            }
            #expect(error?.description == "tiny.yaml: stages[0].quantize: \(dir)/tiny: layer 'pool' (AveragePooling2D) has no full-integer int8 form: "
                    + "the integer kernels have no AveragePooling2D")
        }
    }
}
