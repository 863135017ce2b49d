import Foundation
import NanoCheckpoint
import NanoForge

/// `bench memory`: peak resident memory of `nanoforge compress RECIPE` and `nanoforge inspect
/// MODEL`, each run as a child process of this one and measured by the kernel (`wait4`'s
/// `ru_maxrss`, the child's high-water mark of resident pages, file-backed ones included). The
/// compress peak is set against the fp32 checkpoint's size (bound: 3 ×), the inspect peak against
/// the largest tensor (bound: 2 ×). The compress report's own per-stage peaks (`/proc/self/status`
/// VmHWM when each measurement ended) show where in the run the peak falls.
struct MemoryBenchmark {
    let recipe: String
    let model: String
    /// The `nanoforge` executable to run (this process's own by default).
    let executable: String

    /// This process's executable (`/proc/self/exe` resolved), whatever folder it was started from.
    static func ownExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    static let compressBound = 3.0
    static let inspectBound = 2.0

    func run() throws -> [String: Any] {
        let checkpoint = try checkpointFile()
        let modelBytes = try fileSize(checkpoint)
        let largest = try CheckpointReader.read(path: checkpoint).tensors.map { $0.elementCount * 4 }.max() ?? 0
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-bench-memory-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        print("nanoforge bench memory — \(recipe) and inspect \(model), each a child process (peak RSS from wait4)")
        let inspect = try Self.peakRSS(executable, ["inspect", model])
        let compress = try Self.peakRSS(executable, ["compress", recipe, "--output", scratch])
        let stages = try stagePeaks(scratch + "/report.json")
        func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
        let compressRatio = Double(compress) / Double(modelBytes), inspectRatio = Double(inspect) / Double(largest)
        print("  fp32 checkpoint \(mb(modelBytes)); largest tensor \(mb(largest)) as fp32")
        print("  compress \(recipe): peak \(mb(compress)) = \(String(format: "%.2f", compressRatio)) × the checkpoint (bound \(Self.compressBound) × = \(mb(Int(Self.compressBound * Double(modelBytes)))))")
        for stage in stages { print("    after \(stage["stage"] as? String ?? "?"): \(mb(stage["peak_memory_bytes"] as? Int ?? 0))") }
        print("  inspect \(model): peak \(mb(inspect)) = \(String(format: "%.2f", inspectRatio)) × the largest tensor (bound \(Self.inspectBound) ×)")
        return ["memory": [
            "recipe": recipe, "model": model, "model_fp32_bytes": modelBytes, "largest_tensor_bytes": largest,
            "compress_peak_rss_bytes": compress, "compress_ratio_to_model": compressRatio,
            "compress_bound_ratio": Self.compressBound, "compress_within_bound": compressRatio < Self.compressBound,
            "compress_report_stage_peaks": stages,
            "inspect_peak_rss_bytes": inspect, "inspect_ratio_to_largest_tensor": inspectRatio,
            "inspect_bound_ratio": Self.inspectBound, "inspect_within_bound": inspectRatio < Self.inspectBound,
        ] as [String: Any]]
    }

    /// The checkpoint file of `model` (a folder's `model.safetensors`, or the file itself).
    func checkpointFile() throws -> String {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: model, isDirectory: &isFolder) else {
            throw CLIErrors.BadInput("--model: \(model) does not exist")
        }
        return isFolder.boolValue ? model + "/model.safetensors" : model
    }

    func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    /// Each measured stage's `peak_memory_bytes` from a compress report.
    func stagePeaks(_ report: String) throws -> [[String: Any]] {
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report))) as? [String: Any]
        return (json?["stages"] as? [[String: Any]] ?? []).map { ["stage": $0["name"] ?? "?", "peak_memory_bytes": $0["peak_memory_bytes"] ?? 0] }
    }

    /// Runs `executable arguments…` (output discarded) and returns its peak RSS in bytes; throws
    /// when it cannot start or exits non-zero.
    static func peakRSS(_ executable: String, _ arguments: [String]) throws -> Int {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CLIErrors.BadInput("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw CLIErrors.BadInput("\(executable) \(arguments.joined(separator: " ")) failed (\(exited ? "exit \(code)" : "signal \(status & 0x7f)"))")
        }
        return usage.ru_maxrss * 1024
    }
}
