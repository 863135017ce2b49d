import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import TestSupport

/// The same recipe with the same seed writes byte-identical outputs: the model, its config and
/// the recipe copy hash the same, and the report agrees in everything but timings and memory.
@Suite struct DeterminismTests {
    /// SHA-256 of the files that must match byte for byte.
    static func digests(_ folder: String, files: [String]) throws -> [String: String] {
        var out: [String: String] = [:]
        for file in files { out[file] = try SHA256.hex(file: folder + "/" + file) }
        return out
    }

    /// The report's timing-free parts: each stage's metrics and the per-layer table.
    static func comparableReport(_ folder: String) throws -> (metrics: [[String: Double]], layers: [LayerReport]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))
        let report = try JSONDecoder().decode(CompressionReport.self, from: data)
        return (report.stages.map(\.metrics), report.layers)
    }

    static func expectSameOutputs(_ a: String, _ b: String, files: [String]) throws {
        let first = try digests(a, files: files), second = try digests(b, files: files)
        #expect(first == second)
        let ra = try comparableReport(a), rb = try comparableReport(b)
        #expect(ra.metrics == rb.metrics)
        #expect(ra.layers == rb.layers)
        print("determinism: \(first.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.prefix(16))" }.joined(separator: ", "))")
    }

    /// Wanda 50 % then GPTQ int4 with static int8 activations on the digits MLP, through the CLI.
    @Test func quickstartTwiceIsIdentical() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            for run in ["a", "b"] {
                let result = try CommandRunner.nanoforge(["compress", "Recipes/quickstart.yaml", "--output", dir + "/" + run, "--seed", "3"])
                try #require(result.status == 0, "\(result.stderr)")
            }
            try Self.expectSameOutputs(dir + "/a", dir + "/b", files: ["model.safetensors", "config.json", "recipe.yaml"])
        }
    }

    /// GPTQ and Wanda on a tiny BERT, in two processes: Swift seeds hashing per process, so a sum
    /// in Dictionary or Set order would show here (it did: macro_f1 summed its classes in Set order).
    @Test func tinyBertGPTQAndWandaTwiceIsIdentical() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let yaml = PipelineTests.recipe(dir, stages: """
              - prune: { method: wanda, sparsity: 0.5, targets: ["encoder.layer.*"] }
              - quantize: { method: gptq, bits: 4, group_size: 32, targets: ["Linear"] }
            """)
            try yaml.write(toFile: dir + "/tiny.yaml", atomically: true, encoding: .utf8)
            for run in ["a", "b"] {
                let result = try CommandRunner.nanoforge(["compress", dir + "/tiny.yaml", "--output", dir + "/" + run])
                try #require(result.status == 0, "\(result.stderr)")
            }
            try Self.expectSameOutputs(dir + "/a", dir + "/b",
                                       files: ["model.safetensors", "config.json", "recipe.yaml", "vocab.txt"])
        }
    }
}
