import Foundation
import Testing
@testable import NanoCheckpoint
import TestSupport

/// Files that crash or hang libhdf5 itself (found by `make fuzz`, Fixtures/checkpoints/corrupt/
/// hdf5-libhdf5-*.h5) become errors, because `HDF5Isolation` reads a file in a child process first.
/// In this test process they would crash the runner, so they are only ever given to the CLI.
@Suite struct HDF5IsolationTests {
    struct Expectation: Decodable {
        let contains: String
        /// What the file does to a process that reads it without isolation: a signal name or "hang".
        let in_process: String
        let origin: String
        let why: String
    }

    static let folder = RepositoryPaths.fixture("checkpoints/corrupt")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasPrefix("hdf5-libhdf5-") && $0.hasSuffix(".h5") }.sorted()

    static func expectations() throws -> [String: Expectation] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/hdf5-libhdf5-expected.json"))
        return try JSONDecoder().decode([String: Expectation].self, from: data)
    }

    /// The CLI's environment with a 3 s limit on the check (the hang fixture costs that much).
    static func environment(_ extra: [String: String] = [:]) -> [String: String] {
        ProcessInfo.processInfo.environment.merging([HDF5Isolation.timeoutVariable: "3"].merging(extra) { $1 }) { $1 }
    }

    static func requireCLI() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
    }

    @Test func corpusAndExpectationsMatch() throws {
        #expect(Self.files.count >= 4)
        #expect(Set(Self.files) == Set(try Self.expectations().keys))
    }

    @Test(arguments: files)
    func inspectTurnsALibhdf5FailureIntoAnError(file: String) throws {
        try Self.requireCLI()
        let expected = try #require(try Self.expectations()[file])
        let path = Self.folder + "/" + file
        let started = Date()
        let result = try CommandRunner.run(CommandRunner.executable, ["inspect", path], environment: Self.environment())
        #expect(result.status == 2, "\(file): status \(result.status), \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: \(path): "), "\(result.stderr)")
        #expect(result.stderr.contains(expected.contains), "\(file): '\(result.stderr)' lacks '\(expected.contains)'")
        #expect(result.stderr.contains("nothing was loaded"))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(Date().timeIntervalSince(started) < 30)
    }

    /// The crash fixtures still crash libhdf5 when read in-process (isolation off): if a libhdf5
    /// update fixes one, this says so.
    @Test(arguments: files)
    func crashFixtureStillCrashesInProcess(file: String) throws {
        try Self.requireCLI()
        let expected = try #require(try Self.expectations()[file])
        guard expected.in_process == "SIGSEGV" else { return }
        let result = try CommandRunner.run(CommandRunner.executable, ["inspect", Self.folder + "/" + file],
                                           environment: Self.environment([HDF5Isolation.switchVariable: "0", "SWIFT_BACKTRACE": "enable=no"]))
        #expect(result.status == SIGSEGV, "\(file): status \(result.status), \(result.stderr)")
    }

    /// Every command that loads a checkpoint goes through the same reader: `eval` here.
    @Test func evalRefusesACrashingFile() throws {
        try Self.requireCLI()
        let path = Self.folder + "/hdf5-libhdf5-segv-attribute-close.h5"
        let result = try CommandRunner.run(CommandRunner.executable,
                                           ["eval", path, "--task", "fidelity", "--data", RepositoryPaths.fixture("models/digits-mlp/test.tsv")],
                                           environment: Self.environment())
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("error: \(path): libhdf5 crashed while reading this file (signal 11, SIGSEGV)"), "\(result.stderr)")
    }

    /// The child half: exit 0 on a readable file; exit 1 and the in-process error as JSON otherwise.
    @Test func checkSubcommandReportsTheReadersError() throws {
        try Self.requireCLI()
        let good = try CommandRunner.run(CommandRunner.executable, [HDF5Isolation.childCommand, RepositoryPaths.fixture("checkpoints/hdf5/digits-mlp.h5")])
        #expect(good.status == 0 && good.stdout.isEmpty, "\(good.stderr)")
        let path = Self.folder + "/truncated.h5"
        let bad = try CommandRunner.run(CommandRunner.executable, [HDF5Isolation.childCommand, path])
        #expect(bad.status == 1)
        let inProcess = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(path: path) }
        #expect(try JSONDecoder().decode(CheckpointError.self, from: Data(bad.stdout.utf8)) == inProcess)
    }

    /// Through the library hook: a good file passes, a reader error comes back as the same
    /// `CheckpointError`, a crash as `libraryFailed`.
    @Test func libraryCheckMapsEachOutcome() throws {
        try Self.requireCLI()
        let configuration = HDF5Isolation.Configuration(executable: CommandRunner.executable)
        try HDF5Isolation.check(path: RepositoryPaths.fixture("checkpoints/keras/model.h5"), configuration: configuration)
        let wrongRank = Self.folder + "/wrong-rank-kernel.h5"
        let inProcess = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(path: wrongRank) }
        let isolated = #expect(throws: CheckpointError.self) { try HDF5Isolation.check(path: wrongRank, configuration: configuration) }
        #expect(isolated == inProcess)
        let crashing = Self.folder + "/hdf5-libhdf5-segv-global-heap-read.h5"
        let error = #expect(throws: CheckpointError.self) { try HDF5Isolation.check(path: crashing, configuration: configuration) }
        guard case .libraryFailed(let file, let reason)? = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(file == crashing && reason.contains("SIGSEGV"), "\(reason)")
        let missing = HDF5Isolation.Configuration(executable: "/nonexistent/nanoforge")
        let notStarted = #expect(throws: CheckpointError.self) { try HDF5Isolation.check(path: RepositoryPaths.fixture("checkpoints/keras/weights.h5"), configuration: missing) }
        #expect(notStarted?.description.contains("cannot start the HDF5 check process") == true)
    }

    @Test func timeoutScalesWithTheFileAndCanBeSet() {
        #expect(HDF5Isolation.timeout(fileSize: 15_000, environment: [:]) == 40)
        #expect(HDF5Isolation.timeout(fileSize: 90_900_000, environment: [:]) == 40)
        #expect(HDF5Isolation.timeout(fileSize: 1_000_000_001, environment: [:]) == 140)
        #expect(HDF5Isolation.timeout(fileSize: 15_000, environment: [HDF5Isolation.timeoutVariable: "2.5"]) == 2.5)
        #expect(HDF5Isolation.timeout(fileSize: 15_000, environment: [HDF5Isolation.timeoutVariable: "soon"]) == 40)
    }

    /// A file rewritten in place is checked again.
    @Test func fileIdentityFollowsTheBytes() throws {
        try withTemporaryDirectory { dir in
            let path = dir + "/a.h5"
            try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
            let before = try #require(HDF5Isolation.FileIdentity(path))
            #expect(HDF5Isolation.FileIdentity(path) == before)
            try Data([1, 2, 3, 4]).write(to: URL(fileURLWithPath: path))
            #expect(HDF5Isolation.FileIdentity(path) != before)
            #expect(HDF5Isolation.FileIdentity(dir) == nil)
            #expect(HDF5Isolation.FileIdentity(dir + "/none") == nil)
        }
    }
}
