import Foundation

/// Runs Python snippets for interop tests (reference libraries such as safetensors and h5py).
/// The interpreter is `$PYTHON` when set, as `make setup` uses it, else `python3` from `PATH`.
public enum PythonRunner {
    /// A run that could not start or exited non-zero; carries the exit status and stderr.
    public struct Failure: Error, CustomStringConvertible {
        public let status: Int32
        public let stderr: String
        public var description: String { "\(PythonRunner.interpreter) exited with status \(status): \(stderr)" }
    }

    /// Python or packages an interop test needs are missing: says to run `make setup`.
    public struct Unavailable: Error, CustomStringConvertible {
        public let description: String
    }

    /// The interpreter: `$PYTHON` or `python3`.
    public static var interpreter: String {
        ProcessInfo.processInfo.environment["PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
    }

    /// Runs `python3 -c script arguments…` and returns its stdout; throws `Failure` with stderr
    /// when python3 is missing or the script exits non-zero.
    @discardableResult
    public static func run(_ script: String, arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [interpreter, "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw Failure(status: -1, stderr: "cannot start \(interpreter): \(error)") }
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

    /// Throws `Unavailable`, saying to run `make setup`, unless the interpreter starts and can
    /// import every module in `modules`. Interop tests call this first, so they fail, not skip.
    public static func require(modules: [String]) throws {
        let script = """
            import importlib.util, sys
            print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))
            """
        let missing: String
        do { missing = try run(script, arguments: modules) } catch {
            throw Unavailable(description: "interop tests need \(interpreter) with \(modules.joined(separator: ", ")): run `make setup`. \(error)")
        }
        let names = missing.split(whereSeparator: \.isWhitespace)
        guard names.isEmpty else {
            throw Unavailable(description: "\(interpreter) lacks the Python package(s) \(names.joined(separator: ", ")) the interop tests need: run `make setup`")
        }
    }
}
