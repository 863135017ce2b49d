import Foundation
import Testing
import TestSupport
@testable import NanoServe

/// `nanoforge serve` as a user runs it: the `listening on` line, requests, and a clean exit 0
/// on SIGTERM and SIGINT.
@Suite(.serialized, .timeLimit(.minutes(3))) struct ServeProcessTests {
    /// Reads a child's stdout line by line on a thread of its own.
    final class LineReader: @unchecked Sendable {
        private let lock = NSLock()
        private var buffer = Data()
        init(_ handle: FileHandle) {
            handle.readabilityHandler = { [weak self] h in
                let data = h.availableData
                if data.isEmpty { h.readabilityHandler = nil }
                self?.lock.withLock { self?.buffer.append(data) }
            }
        }
        var text: String { lock.withLock { String(decoding: buffer, as: UTF8.self) } }
    }

    /// Starts `nanoforge serve arguments… --port 0` and waits (at most 60 s) for its port.
    static func start(_ arguments: [String]) throws -> (process: Process, port: Int, stdout: LineReader, stderr: Pipe) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandRunner.executable)
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let reader = LineReader(out.fileHandleForReading)
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && process.isRunning {
            if let line = reader.text.split(separator: "\n").first(where: { $0.hasPrefix("listening on http://127.0.0.1:") }),
               let port = Int(line.split(separator: ":").last ?? "") {
                return (process, port, reader, err)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw ServeError.unsupported(path: "nanoforge serve", reason: "no 'listening on' line: \(reader.text) \(String(decoding: err.fileHandleForReading.availableData, as: UTF8.self))")
    }

    /// Waits (at most 60 s) for the child to exit; its status, or nil if it did not.
    static func waitForExit(_ process: Process) -> Int32? {
        let deadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate(); return nil }
        return process.terminationStatus
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func servesThenStopsCleanlyOnASignal(signal: Int32) async throws { try await onTestExecutor {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        let folder = try ServeFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let paths = try ServeFixtures.write(to: folder)
        let (process, port, _, stderr) = try Self.start(["bert=" + paths.encoder, paths.decoder, "--api-key", "k"])
        let client = TestClient(port: port)
        let models = try await client.request("GET", "/v1/models", headers: ["Authorization": "Bearer k"])
        #expect(models.json["data"]?.array?.compactMap { $0["id"]?.string } == ["bert", "llama"], "aliases: given, and the folder's name")
        let reply = try await client.post("/v1/embeddings", "{\"model\": \"bert\", \"input\": \"the cat\"}", headers: ["Authorization": "Bearer k"])
        #expect(reply.status == 200, "\(reply.text)")
        let chat = try await client.post("/v1/chat/completions", "{\"model\": \"llama\", \"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"max_tokens\": 3}",
                                         headers: ["Authorization": "Bearer k"])
        #expect(chat.status == 200, "\(chat.text)")
        kill(process.processIdentifier, signal)
        let status = Self.waitForExit(process)
        #expect(status == 0, "exit status after signal \(signal)")
        let log = String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("stopped"), "\(log)")
    } }

    @Test func badArgumentsAreClearErrors() throws {
        try #require(FileManager.default.isExecutableFile(atPath: CommandRunner.executable), "build the CLI first")
        let missing = try CommandRunner.nanoforge(["serve", "/nonexistent/model"])
        #expect(missing.status == 2 && missing.stderr.contains("/nonexistent/model"), "\(missing.stderr)")
        let noTokenizer = try CommandRunner.nanoforge(["serve", RepositoryPaths.fixture("models/tiny-llama"), "--port", "0"])
        #expect(noTokenizer.status == 2 && noTokenizer.stderr.contains("no tokenizer"), "\(noTokenizer.stderr)")
        let badPort = try CommandRunner.nanoforge(["serve", "x", "--port", "70000"])
        #expect(badPort.status != 0 && badPort.stderr.contains("--port"), "\(badPort.stderr)")
    }
}
