import Foundation

/// Runs Python for interop tests (h5py, safetensors, numpy read what we write and write what we
/// read). The interpreter is `$PYTHON` when set, as `make setup` uses it, else `python3` from
/// `PATH`. A missing interpreter or package is an error telling to run `make setup`: interop
/// tests fail rather than skip.
public enum PythonRunner {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The interpreter: `$PYTHON` or `python3`.
    public static var interpreter: String {
        ProcessInfo.processInfo.environment["PYTHON"].flatMap { $0.isEmpty ? nil : $0 } ?? "python3"
    }

    /// Runs `python3 -c script arguments…` and returns its standard output. Throws, with the
    /// standard error, when the interpreter cannot be started or exits non-zero.
    @discardableResult
    public static func run(_ script: String, arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [interpreter, "-c", script] + arguments
        process.standardInput = FileHandle.nullDevice
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch {
            throw Failure(description: "cannot start \(interpreter): \(error); run `make setup`")
        }
        // Drain stderr on another thread so neither pipe fills and blocks the child.
        let errorText = Collected()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errorText.data = errors.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        let stdout = String(decoding: outputData, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let stderr = String(decoding: errorText.data, as: UTF8.self)
            let missing = process.terminationStatus == 127 ? " (\(interpreter) not found: run `make setup`)" : ""
            throw Failure(description: "\(interpreter) exited with status \(process.terminationStatus)\(missing):\n\(stderr)")
        }
        return stdout
    }

    /// Throws a failure that says to run `make setup` unless the interpreter can import every
    /// module in `modules`.
    public static func require(modules: [String]) throws {
        let script = """
            import importlib, sys
            missing = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is None]
            print(" ".join(missing))
            """
        let missing: String
        do { missing = try run("import importlib.util\n" + script, arguments: modules) } catch let failure as Failure {
            throw Failure(description: "Python interop tests need \(interpreter) with \(modules.joined(separator: ", ")): run `make setup`. \(failure.description)")
        }
        let names = missing.split(whereSeparator: \.isWhitespace)
        guard names.isEmpty else {
            throw Failure(description: "\(interpreter) lacks the Python package(s) \(names.joined(separator: ", ")) the interop tests need: run `make setup`")
        }
    }

    private final class Collected: @unchecked Sendable {
        var data = Data()
    }
}
