import Foundation

/// Runs Python snippets for interop tests (reference libraries such as safetensors and h5py).
public enum PythonRunner {
    /// A run that could not start or exited non-zero; carries the exit status and stderr.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int32
        public let stderr: String
        public var description: String { "python3 exited with status \(status): \(stderr)" }
    }

    /// Runs `python3 -c script arguments…` and returns its stdout; throws `Failure` with stderr
    /// when python3 is missing or the script exits non-zero.
    public static func run(_ script: String, arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw Failure(status: -1, stderr: "cannot start python3: \(error)") }
        // Drain stderr on another thread so neither pipe can fill up and block the child.
        nonisolated(unsafe) var errorBytes = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errorBytes = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outputBytes = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        let stderr = String(decoding: errorBytes, as: UTF8.self)
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw Failure(status: process.terminationStatus, stderr: stderr)
        }
        return String(decoding: outputBytes, as: UTF8.self)
    }
}
