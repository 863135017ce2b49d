import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import TestSupport

/// `nanoforge compress --resume` after a real SIGKILL: a training stage (LSQ QAT on the digits
/// classifier, so learned scales and AdamW moments are in the checkpoint too) killed once its
/// checkpoint has passed step 50 and then resumed ends with a model whose every stored tensor is
/// bit-identical to an uninterrupted run's.
@Suite(.serialized) struct ResumeKillTests {
    static func recipe(_ dir: String) -> String {
        let fixture = PipelineClassifierTests.fixture
        return """
        name: digits-resume
        model: { path: \(fixture) }
        evaluation:
          - { task: fidelity, data: \(fixture)/test.tsv }
        stages:
          - qat: { bits: 2, lsq: true, data: \(fixture)/calibration.tsv, steps: 400, batch_size: 32, learning_rate: 0.002, warmup: 10, checkpoint_every: 25 }
        output: { dir: \(dir)/unused }
        """
    }

    static func start(_ recipe: String, _ output: String, resume: Bool = false) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = ["compress", recipe, "--output", output] + (resume ? ["--resume"] : [])
        process.currentDirectoryURL = URL(fileURLWithPath: RepositoryPaths.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @Test func resumeAfterSigkillGivesIdenticalWeights() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { dir in
            let recipe = dir + "/recipe.yaml"
            try Self.recipe(dir).write(toFile: recipe, atomically: true, encoding: .utf8)
            let whole = try Self.start(recipe, dir + "/whole")
            whole.waitUntilExit()
            try #require(whole.terminationStatus == 0)

            let output = dir + "/killed"
            let checkpoints = Pipeline.checkpointRoot(output) + "/stage-0"
            let victim = try Self.start(recipe, output)
            var killedAt: Int?
            let deadline = Date().addingTimeInterval(120)
            while victim.isRunning && Date() < deadline {
                if let step = try? TrainingCheckpoint.read(from: checkpoints)?.state.step, step >= 50 {
                    kill(victim.processIdentifier, SIGKILL); killedAt = step; break
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
            victim.waitUntilExit()
            try #require(killedAt != nil && victim.terminationReason == .uncaughtSignal, "the run ended before its checkpoint reached step 50")
            #expect(!FileManager.default.fileExists(atPath: output))

            let resumed = try Self.start(recipe, output, resume: true)
            resumed.waitUntilExit()
            try #require(resumed.terminationStatus == 0)
            let a = try CheckpointReader.read(path: dir + "/whole/model.safetensors")
            let b = try CheckpointReader.read(path: output + "/model.safetensors")
            print("resume after SIGKILL: killed with the checkpoint at step \(killedAt!) of 400; \(a.count) tensors compared")
            #expect(a.names == b.names)
            for name in a.names { #expect(a[name]?.data == b[name]?.data, "\(name) differs") }
        }
    }
}
