import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import TestSupport

/// Output folders the pipeline may replace, and checkpoints with NaN or ±Inf weights.
@Suite struct RobustnessTests {
    static let nonFiniteModel = RepositoryPaths.fixture("checkpoints/corrupt/non-finite/digits-mlp")

    static func recipe(model: String, allowNonFinite: Bool? = nil, output: String, stages: String = "[{quantize: {bits: 8}}]") -> String {
        let allow = allowNonFinite.map { ", allow_non_finite: \($0)" } ?? ""
        return """
        name: robust
        model: { path: \(model)\(allow) }
        data:
          calibration: { path: \(RepositoryPaths.fixture("models/digits-mlp/calibration.tsv")), samples: 32 }
        evaluation:
          - { task: fidelity, data: \(RepositoryPaths.fixture("models/digits-mlp/test.tsv")) }
        stages: \(stages)
        output: { dir: \(output) }
        """
    }

    // MARK: output folders

    @Test(arguments: ["out/run", "./out/../out/run", "out/a/./b"])
    func outputInsideRootIsAccepted(_ dir: String) throws {
        try OutputPathCheck.check(dir, root: ".", file: "r.yaml")
    }

    @Test(arguments: ["..", "../x", "out/../../x", "/var/tmp/x", "."])
    func outputOutsideRootIsRefused(_ dir: String) {
        #expect {
            try OutputPathCheck.check(dir, root: ".", file: "r.yaml")
        } throws: { error in
            (error as? RecipeError)?.path == "output.dir"
        }
    }

    @Test(arguments: ["/", "/etc", "/usr", "/bin", "/usr/local/out", "/etc/../etc/x", "//usr", "/home", "/tmp"])
    func systemFoldersAreRefusedWithoutRoot(_ dir: String) {
        #expect {
            try OutputPathCheck.check(dir, root: nil, file: "r.yaml")
        } throws: { error in
            guard let error = error as? RecipeError else { return false }
            return error.path == "output.dir" && error.description.contains("system folder")
        }
    }

    /// A symbolic link inside the root that points outside it does not let the output escape.
    @Test func symlinkOutOfRootIsRefused() throws {
        try withTemporaryDirectory { dir in
            try FileManager.default.createDirectory(atPath: dir + "/root", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(atPath: dir + "/root/link", withDestinationPath: dir + "/elsewhere")
            try OutputPathCheck.check(dir + "/root/out", root: dir + "/root", file: "r.yaml")
            #expect(throws: RecipeError.self) { try OutputPathCheck.check(dir + "/root/link/out", root: dir + "/root", file: "r.yaml") }
        }
    }

    /// `compress --root` refuses `--output` outside the root before loading anything.
    @Test func compressRootOptionRefusesEscapingOutput() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        let result = try CommandRunner.nanoforge(["compress", "Recipes/quickstart.yaml", "--root", "out", "--output", "out/../escaped"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("output.dir"), "\(result.stderr)")
        #expect(result.stderr.contains("inside --root"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: RepositoryPaths.root + "/escaped"))
    }

    // MARK: non-finite weights

    struct NonFiniteExpectation: Decodable {
        let model: String
        let non_finite: [String: Int]
    }

    static func expectedCounts() throws -> [String: Int] {
        let data = try Data(contentsOf: URL(fileURLWithPath: RepositoryPaths.fixture("checkpoints/corrupt/non-finite/expected.json")))
        return try JSONDecoder().decode(NonFiniteExpectation.self, from: data).non_finite
    }

    /// The reader and the model loader take the file; the counts match the generator's.
    @Test func nonFiniteCheckpointLoadsAndIsCounted() throws {
        let store = try CheckpointReader.read(path: Self.nonFiniteModel + "/model.safetensors")
        let counts = Dictionary(uniqueKeysWithValues: NonFiniteCheck.counts(in: store).map { ($0.name, $0.count) })
        #expect(counts == (try Self.expectedCounts()))
        _ = try ModelLoader.load(path: Self.nonFiniteModel)
        let clean = try CheckpointReader.read(path: RepositoryPaths.fixture("models/digits-mlp/model.safetensors"))
        #expect(NonFiniteCheck.counts(in: clean).isEmpty)
    }

    /// The pipeline refuses the model before loading it for a stage, naming the file and the tensor.
    @Test func pipelineRefusesNonFiniteWeights() throws {
        try withTemporaryDirectory { dir in
            let recipe = try Recipe(yaml: Self.recipe(model: Self.nonFiniteModel, output: dir + "/out"), file: "nan.yaml")
            #expect(recipe.allowNonFinite == false)
            var log: [String] = []
            var pipeline = Pipeline(recipe: recipe)
            pipeline.progress = { log.append($0) }
            #expect {
                try pipeline.run()
            } throws: { error in
                guard let error = error as? PipelineError else { return false }
                let text = error.description
                return text.hasPrefix("nan.yaml: model.path: ") && text.contains(Self.nonFiniteModel + "/model.safetensors")
                    && text.contains("'layers.0.weight'") && text.contains("allow_non_finite")
            }
            #expect(log.isEmpty, "nothing was loaded or run: \(log)")
            #expect(!FileManager.default.fileExists(atPath: dir + "/out"))
        }
    }

    /// With `allow_non_finite: true` the CLI runs the recipe to the end without trapping.
    @Test func allowNonFiniteRunsWithoutTrapping() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            for (name, stages) in [("rtn", "[{quantize: {bits: 8}}]"),
                                   ("gptq", "[{prune: {method: wanda, sparsity: 0.5}}, {quantize: {method: gptq, bits: 4, group_size: 32}}]")] {
                let path = dir + "/\(name).yaml"
                try Self.recipe(model: Self.nonFiniteModel, allowNonFinite: true, output: dir + "/\(name)", stages: stages)
                    .write(toFile: path, atomically: true, encoding: .utf8)
                let result = try CommandRunner.nanoforge(["compress", path])
                // 0, or a typed error (exit 1 or 2); never a trap (signal, exit status ≥ 128).
                #expect(result.status == 0 || result.status == 1 || result.status == 2, "\(name): \(result.status) \(result.stderr)")
                print("allow_non_finite \(name): exit \(result.status) \(result.stderr.split(separator: "\n").last ?? "")")
            }
        }
    }

    /// `inspect` reports the non-finite count of each tensor, as a line and in JSON.
    @Test func inspectReportsNonFiniteCounts() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        let table = try CommandRunner.nanoforge(["inspect", Self.nonFiniteModel])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("non-finite layers.0.weight: 2 of 8192 values"), "\(table.stdout)")
        #expect(table.stdout.contains("non-finite layers.1.bias: 1 of 10 values"))
        let json = try CommandRunner.nanoforge(["inspect", Self.nonFiniteModel, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["non_finite"] as? Int == 3)
        let tensors = try #require(object["tensors"] as? [[String: Any]])
        var counts: [String: Int] = [:]
        for t in tensors { if let n = t["non_finite"] as? Int, n > 0, let name = t["name"] as? String { counts[name] = n } }
        #expect(counts == (try Self.expectedCounts()))
    }
}
