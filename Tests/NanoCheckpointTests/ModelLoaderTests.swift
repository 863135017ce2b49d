import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// ModelLoader: every parameter is filled by name, and every mismatch is an error naming it.
@Suite struct ModelLoaderTests {
    static let spec = ModelSpec.decoder(.init(vocabularySize: 11, contextLength: 8, width: 8, layers: 1, heads: 2))

    /// A store holding exactly the tensors of a fresh decoder of `spec`.
    static func store() -> (TensorStore, GPTDecoder) {
        var rng = RandomGenerator(seed: 5)
        guard let c = spec.configuration(as: GPTDecoder.Configuration.self) else { fatalError("spec is a decoder") }
        let model = GPTDecoder(c, rng: &rng)
        let tensors = model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }
        return (TensorStore(tensors: tensors, source: "model.safetensors"), model)
    }

    @Test func loadsEveryParameterByName() throws {
        let (store, original) = Self.store()
        guard let loaded = try ModelLoader.build(Self.spec, from: store).as(GPTDecoder.self) else {
            Issue.record("not a decoder"); return
        }
        for ((name, a), (_, b)) in zip(original.namedParameters, loaded.namedParameters) {
            #expect(a.value == b.value, "\(name)")
        }
    }

    @Test func missingTensorIsNamed() throws {
        let (full, _) = Self.store()
        let store = TensorStore(tensors: full.tensors.filter { $0.name != "blocks.0.attn.k_proj.weight" }, source: "m.safetensors")
        #expect(throws: CheckpointError.missingTensor(file: "m.safetensors", tensor: "blocks.0.attn.k_proj.weight")) {
            try ModelLoader.build(Self.spec, from: store)
        }
    }

    @Test func extraTensorIsNamed() throws {
        var (store, _) = Self.store()
        store.insert(StoredTensor.encoding(Tensor.zeros([2]), name: "blocks.0.surprise"))
        #expect(throws: CheckpointError.unexpectedTensor(file: "model.safetensors", tensor: "blocks.0.surprise")) {
            try ModelLoader.build(Self.spec, from: store)
        }
    }

    @Test func wrongShapeNamesExpectedAndFound() throws {
        var (store, _) = Self.store()
        store.insert(StoredTensor.encoding(Tensor.zeros([8, 7]), name: "blocks.0.ffn.up_proj.weight"))
        let error = #expect(throws: CheckpointError.self) { try ModelLoader.build(Self.spec, from: store) }
        #expect(error == .shapeMismatch(file: "model.safetensors", tensor: "blocks.0.ffn.up_proj.weight", expected: [32, 8], found: [8, 7]))
        #expect(error?.description.contains("expected shape [32, 8], found [8, 7]") == true)
    }

    @Test func nativeConfigRoundTrips() throws {
        let json = Self.spec.nativeJSON
        #expect(try ModelSpec.parse(json, file: "config.json") == Self.spec)
    }

    @Test func configErrorsNameTheField() throws {
        let bad = try JSONParser.parse(Array(#"{"model_type": "bert", "vocab_size": 10, "hidden_size": -3}"#.utf8))
        #expect(throws: CheckpointError.invalidConfig(file: "config.json", field: "hidden_size",
                                                      reason: "expected a positive integer, found -3")) {
            try ModelSpec.parse(bad, file: "config.json")
        }
        let unknown = try JSONParser.parse(Array(#"{"model_type": "t5"}"#.utf8))
        #expect(throws: CheckpointError.self) { try ModelSpec.parse(unknown, file: "config.json") }
    }
}

/// The CLI on bad input: one clear line on stderr, exit code 2, no stack trace.
@Suite struct CLIBadInputTests {
    @Test(arguments: ["truncated.safetensors", "unknown-dtype.safetensors", "empty.safetensors", "text-renamed.h5",
                      "wrong-rank-kernel.h5", "header-length-1tb.safetensors"])
    func inspectRejectsCorruptFile(name: String) throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/\(name)")
        let result = try CommandRunner.nanoforge(["inspect", path])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(path)"), "\(result.stderr)")
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
    }

    @Test func embedRejectsMissingInput() throws {
        let result = try CommandRunner.nanoforge(["embed", RepositoryPaths.fixture("checkpoints/corrupt/truncated.safetensors"),
                                                  "--input", "/nonexistent.txt", "--output", "/tmp/never.safetensors"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("truncated.safetensors"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never.safetensors"))
    }

    @Test func helpListsCommands() throws {
        let result = try CommandRunner.nanoforge(["--help"])
        #expect(result.status == 0)
        for command in ["compress", "eval", "compare", "demo", "embed", "inspect", "bench"] { #expect(result.stdout.contains(command)) }
    }

    @Test func compareRejectsAFolderWithoutReport() throws {
        let result = try CommandRunner.nanoforge(["compare", "/nonexistent-run"])
        #expect(result.status == 2)
        #expect(result.stderr == "error: /nonexistent-run/report.json: no such file (is this a `nanoforge compress` output folder?)\n")
    }

    @Test func compressRejectsAnInvalidRecipe() throws {
        let path = RepositoryPaths.fixture("recipes/invalid")
        let files = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".yaml") }.sorted()
        let result = try CommandRunner.nanoforge(["compress", path + "/" + files[0]])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
