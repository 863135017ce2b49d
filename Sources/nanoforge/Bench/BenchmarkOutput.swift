import Foundation
import NanoTensor

/// Helpers shared by the benchmark suites: timing, reference processes, JSON output.
enum BenchmarkOutput {
    /// Runs a reference script and decodes its JSON stdout; nil (with a note on stderr) when the
    /// interpreter or its packages are missing.
    static func runReference(_ python: String, _ script: String, _ arguments: [String], threads: Int) -> [String: Any]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, script] + arguments
        var env = ProcessInfo.processInfo.environment
        env["OMP_NUM_THREADS"] = String(threads)
        env["OPENBLAS_NUM_THREADS"] = String(threads)
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            FileHandle.standardError.write("reference \(script) could not start with \(python): \(error)\n".data(using: .utf8)!)
            return nil
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            let message = String(data: errData, encoding: .utf8) ?? ""
            FileHandle.standardError.write("reference \(script) skipped: \(message.split(separator: "\n").last ?? "exit \(process.terminationStatus)")\n".data(using: .utf8)!)
            return nil
        }
        return json
    }

    /// Writes `object` as pretty JSON through a temporary file and a rename.
    /// Every suite's JSON also names the kernel set that ran (`kernels`).
    static func write(_ object: [String: Any], to path: String) throws {
        var object = object
        object["kernels"] = KernelSet.current.name
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try data.write(to: temp)
        guard rename(temp.path, url.path) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        print("wrote \(path)")
    }

    static func format(_ x: Double?, _ digits: Int = 1) -> String {
        guard let x else { return "—" }
        return String(format: "%.\(digits)f", x)
    }

    /// Left-aligns `s` in `width` columns.
    static func padRight(_ s: String, _ width: Int) -> String {
        s + String(repeating: " ", count: max(0, width - s.count))
    }

    /// Right-aligns `s` in `width` columns.
    static func pad(_ s: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - s.count)) + s
    }
}
