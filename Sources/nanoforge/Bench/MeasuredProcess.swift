import Foundation

/// A child process run to completion with its wall time and peak resident memory measured by
/// the kernel (`wait4`'s `ru_maxrss`, the child's high-water mark, as `/usr/bin/time -v` reports
/// it) and its stdout and stderr kept in a log file, for benchmarks that time other tools.
struct MeasuredProcess {
    /// Wall-clock seconds from spawn to exit.
    let seconds: Double
    /// Peak resident set size in bytes.
    let peakRSSBytes: Int
    /// The file that holds the child's stdout and stderr.
    let log: String

    /// Runs `executable arguments…` with its output in `log` (replaced); throws naming the command
    /// and the log's last line when it cannot start or exits non-zero.
    static func run(_ executable: String, _ arguments: [String], log: String) throws -> MeasuredProcess {
        let start = ContinuousClock.now
        let pid = try spawn(executable, arguments, log: log)
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
        let elapsed = ContinuousClock.now - start
        let exited = status & 0x7f == 0, code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let tail = (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").last.map(String.init) ?? ""
            throw CLIErrors.BadInput("\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) failed "
                                     + "(\(exited ? "exit \(code)" : "signal \(status & 0x7f)"); \(log): \(tail))")
        }
        return MeasuredProcess(seconds: elapsed.seconds, peakRSSBytes: usage.ru_maxrss * 1024, log: log)
    }

    /// Starts `executable arguments…` with stdin from /dev/null and stdout and stderr in `log`
    /// (replaced); the child's pid, for `wait4`.
    static func spawn(_ executable: String, _ arguments: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CLIErrors.BadInput("cannot start \(executable): \(String(cString: strerror(spawned)))") }
        return pid
    }

    /// `seconds` for JSON: null for a reused run (NaN).
    var secondsField: Any { seconds.isNaN ? NSNull() : seconds }

    /// This machine's CPU model (`/proc/cpuinfo`'s first `model name`), or "unknown".
    static func cpuName() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("model name") }),
              let colon = line.firstIndex(of: ":") else { return "unknown" }
        return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
}
