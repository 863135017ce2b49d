import Foundation
import Testing
import NanoCheckpoint
import NanoForge
@testable import NanoQuant
import NanoTensor
import TestSupport

/// `nanoforge compress` killed with SIGKILL at seeded random moments never leaves a half-written
/// output folder: after each kill the folder is absent or a complete earlier output, nothing
/// temporary sits inside it, and the next run cleans the temporary siblings a kill left behind.
@Suite(.serialized) struct KillTests {
    static let trials = 24
    static let recipe = "Recipes/quickstart.yaml"

    /// The files a complete quickstart output holds.
    static func fileSet(_ folder: String) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: folder))
    }

    /// Throws unless `folder` is a complete output with the reference's file set.
    static func requireComplete(_ folder: String, files: Set<String>) throws {
        let present = try fileSet(folder)
        #expect(present == files, "file set after a kill: \(present.sorted())")
        #expect(!present.contains { $0.contains(".partial-") || $0.hasSuffix(".tmp") })
        let store = try CheckpointReader.read(path: folder + "/model.safetensors")
        #expect(store.count > 0)
        _ = try PackedModel.load(path: folder)
        let report = try Data(contentsOf: URL(fileURLWithPath: folder + "/report.json"))
        _ = try JSONDecoder().decode(CompressionReport.self, from: report)
    }

    static func start(_ output: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = ["compress", recipe, "--output", output]
        process.currentDirectoryURL = URL(fileURLWithPath: RepositoryPaths.root)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Temporary siblings (`.out.partial-PID`, `.out.old-PID`) in `parent`.
    static func siblings(_ parent: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: parent).filter { $0.hasPrefix(".out.") }.sorted()
    }

    @Test func sigkillLeavesNoHalfWrittenOutput() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        try withTemporaryDirectory { parent in
            let output = parent + "/out"
            // A complete run first: the reference file set and the duration the kills spread over.
            let begin = Date()
            let first = try Self.start(output)
            first.waitUntilExit()
            let duration = Date().timeIntervalSince(begin)
            try #require(first.terminationStatus == 0)
            let files = try Self.fileSet(output)
            try Self.requireComplete(output, files: files)

            var rng = RandomGenerator(seed: 7)
            var killed = 0, finished = 0, replaced = 0, stale = 0
            var previous = try Data(contentsOf: URL(fileURLWithPath: output + "/report.json"))
            for _ in 0..<Self.trials {
                let delay = Double(rng.nextUniform()) * 1.2 * duration
                let process = try Self.start(output)
                Thread.sleep(forTimeInterval: delay)
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                process.waitUntilExit()
                if process.terminationReason == .uncaughtSignal { killed += 1 } else { finished += 1 }
                if FileManager.default.fileExists(atPath: output) {
                    try Self.requireComplete(output, files: files)
                    let report = try Data(contentsOf: URL(fileURLWithPath: output + "/report.json"))
                    if report != previous { replaced += 1; previous = report }
                }
                stale = max(stale, try Self.siblings(parent).count)
            }
            // A final complete run restores the output and removes every dead run's leftovers.
            let last = try Self.start(output)
            last.waitUntilExit()
            #expect(last.terminationStatus == 0)
            try Self.requireComplete(output, files: files)
            #expect(try Self.siblings(parent) == [])
            print("kill test: \(Self.trials) trials over 0…\(String(format: "%.2f", 1.2 * duration)) s: \(killed) killed, "
                  + "\(finished) finished first, \(replaced) replaced the output, at most \(stale) stale siblings")
            #expect(killed > 0)
        }
    }
}
