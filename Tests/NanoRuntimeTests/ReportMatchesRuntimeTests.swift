import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// What a compression report measures is what the deployed engine computes: for each recipe
/// shape, the report's fidelity (the pipeline's dense evaluation of the last stage) and the
/// fidelity of the written output run by the packed runtime with its default kernel (what
/// `nanoforge embed` / `eval` run) agree to float summation order on the same sentences.
@Suite struct ReportMatchesRuntimeTests {
    enum Shape: String, CaseIterable, CustomTestStringConvertible {
        case int8WeightOnly, int4Group, int8StaticActivations, int8DynamicActivations
        var testDescription: String { rawValue }

        /// Bounds on |report − runtime| for cosine_mean and cosine_min. Weight-only: float
        /// summation order alone (sgemm blocking, bias added before or after): measured ≤ 1.1e-9 on
        /// the mean and ≤ 3.2e-8 on the min (tiny BERT and MiniLM), bound 2e-6.
        /// With quantized activations, an input that two summation orders put on either side of a
        /// rounding boundary gets neighbouring codes, and that one step propagates through the
        /// later layers' rounding, so single sentences can move further: measured ≤ 1.4e-10 on
        /// the tiny BERT, 1.6e-5 on the mean and 2e-10 on the min of MiniLM dynamic (64
        /// sentences); bound 1e-4 on both.
        var bound: (mean: Double, min: Double) {
            switch self {
            case .int8WeightOnly, .int4Group: return (2e-6, 2e-6)
            case .int8StaticActivations, .int8DynamicActivations: return (1e-4, 1e-4)
            }
        }

        var stage: String {
            let int8 = "method: rtn, bits: 8, granularity: channel, symmetric: true, targets: [\"Linear\"], ignore: [\"pooler.*\"]"
            switch self {
            case .int8WeightOnly: return "{ \(int8) }"
            case .int4Group: return "{ method: rtn, bits: 4, group_size: 32, symmetric: true, targets: [\"Linear\"], ignore: [\"pooler.*\"] }"
            case .int8StaticActivations: return "{ \(int8), activations: { bits: 8 } }"
            case .int8DynamicActivations: return "{ \(int8), activations: { mode: dynamic } }"
            }
        }
    }

    static let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "dog", "ran",
                             "a", "big", "red", "ball", "##s", ".", ",", "and", "in", "park", "sun", "is", "hot"]
    static let sentences = ["the cat sat on the mat.", "a big red ball", "the dog ran in the park", "the sun is hot",
                            "cats and dogs", "the red ball is big", "a dog sat on a mat", "the park is hot",
                            "the big dog and the red cat ran in the hot sun", "a", "mat , ball , park ."]

    /// A tiny BERT (width 64, 2 layers) with config and vocabulary in `dir/model`, sentences in `dir/sentences.txt`.
    static func makeFixture(_ dir: String) throws {
        var rng = RandomGenerator(seed: 23)
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: 64, layers: 2, heads: 4, intermediateWidth: 128,
                                          maxPositions: 64)
        let bert = BertEncoder(c, rng: &rng)
        // Initial weights (std 0.02) barely move the embeddings: widen the encoder's Linears so
        // that each quantization scheme changes the output measurably.
        for (name, variable) in bert.namedParameters.map({ ($0.name, $0.variable) }) where name.hasPrefix("encoder.") && variable.value.rank == 2 {
            variable.value = variable.value * 15
        }
        let store = TensorStore(tensors: bert.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) })
        try FileManager.default.createDirectory(atPath: dir + "/model", withIntermediateDirectories: true)
        try SafetensorsWriter.write(store, to: dir + "/model/model.safetensors")
        try ModelSpec.bert(c).nativeJSON.serialized.write(toFile: dir + "/model/config.json", atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(toFile: dir + "/model/vocab.txt", atomically: true, encoding: .utf8)
        try (sentences.joined(separator: "\n") + "\n").write(toFile: dir + "/sentences.txt", atomically: true, encoding: .utf8)
    }

    /// Runs `stage` on `model` and returns the report's last-stage fidelity and the output's
    /// fidelity on the runtime with `kernel`, both against the fp32 model on `data`.
    static func reportAndDeployed(model: String, data: String, limit: Int?, calibration: String, stage: String, out: String,
                                  kernel: RuntimeKernel = .standard) throws -> (report: [String: Double], deployed: [MetricKey: Double]) {
        let yaml = """
        name: shape
        model: { path: \(model) }
        data:
          calibration: { path: \(calibration), samples: 16 }
        evaluation:
          - { task: fidelity, data: \(data)\(limit.map { ", limit: \($0)" } ?? "") }
        stages:
          - quantize: \(stage)
        output: { dir: \(out) }
        """
        let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "shape.yaml")).run()
        let runtime = try RuntimeEncoder.load(path: out, kernel: kernel)
        let reference = try SentenceEncoder.load(path: model)
        let deployed = try FidelityEvaluation.evaluate(.sentenceEmbedding(runtime, .bert(runtime.configuration)), reference: .sentenceEncoder(reference),
                                                       data: data, limit: limit)
        return (report.stages.last?.metrics ?? [:], deployed)
    }

    @Test(arguments: Shape.allCases) func reportFidelityIsTheRuntimesOnTinyBert(_ shape: Shape) throws {
        try withTemporaryDirectory { dir in
            try Self.makeFixture(dir)
            let (report, deployed) = try Self.reportAndDeployed(model: dir + "/model", data: dir + "/sentences.txt", limit: nil,
                                                                calibration: dir + "/sentences.txt", stage: shape.stage, out: dir + "/out")
            let mean = try #require(report["cosine_mean"]), min = try #require(report["cosine_min"])
            print("\(shape.rawValue): |Δ| mean \(abs(deployed[.cosineMean]! - (report["cosine_mean"] ?? 0))) min \(abs(deployed[.cosineMin]! - (report["cosine_min"] ?? 0))); report cosine_mean \(mean) min \(min); runtime \(deployed[.cosineMean]!) \(deployed[.cosineMin]!)")
            #expect(mean < 1 - 1e-6, "the recipe changed the model")
            #expect(abs(deployed[.cosineMean]! - mean) <= shape.bound.mean, "\(shape): report \(mean), runtime \(deployed[.cosineMean]!)")
            #expect(abs(deployed[.cosineMin]! - min) <= shape.bound.min, "\(shape): report \(min), runtime \(deployed[.cosineMin]!)")
            if shape == .int8WeightOnly {
                // The opt-in 7-bit kernel is a different model: the bound above tells them apart.
                let approximate = try RuntimeEncoder.load(path: dir + "/out", kernel: .u8s8)
                let reference = try SentenceEncoder.load(path: dir + "/model")
                let fidelity = try FidelityEvaluation.evaluate(.sentenceEmbedding(approximate, .bert(approximate.configuration)),
                                                               reference: .sentenceEncoder(reference), data: dir + "/sentences.txt", limit: nil)
                #expect(abs(fidelity[.cosineMean]! - mean) > 10 * shape.bound.mean, "u8s8-7bit: \(fidelity[.cosineMean]!) vs \(mean)")
            }
        }
    }

    /// all-MiniLM-L6-v2 end to end on 64 pydoc sentences, weight-only int8 and dynamic int8 activations.
    @Test(arguments: [Shape.int8WeightOnly, .int8DynamicActivations]) func reportFidelityIsTheRuntimesOnMiniLM(_ shape: Shape) throws {
        let model = try RepositoryPaths.requireCached("models/all-MiniLM-L6-v2")
        let data = try RepositoryPaths.requireCached("data/pydoc-sentences.txt")
        try withTemporaryDirectory { dir in
            let (report, deployed) = try Self.reportAndDeployed(model: model, data: data, limit: 64, calibration: data,
                                                                stage: shape.stage, out: dir + "/out")
            let mean = try #require(report["cosine_mean"]), min = try #require(report["cosine_min"])
            print("MiniLM \(shape.rawValue): |Δ| mean \(abs(deployed[.cosineMean]! - mean)) min \(abs(deployed[.cosineMin]! - min)); report cosine_mean \(mean) min \(min); runtime \(deployed[.cosineMean]!) \(deployed[.cosineMin]!)")
            #expect(abs(deployed[.cosineMean]! - mean) <= shape.bound.mean, "\(shape): report \(mean), runtime \(deployed[.cosineMean]!)")
            #expect(abs(deployed[.cosineMin]! - min) <= shape.bound.min, "\(shape): report \(min), runtime \(deployed[.cosineMin]!)")
        }
    }
}
