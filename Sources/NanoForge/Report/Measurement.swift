import Foundation

/// Measurements the report records for each stage: peak memory and latency.
public enum Measurement {
    /// The process's peak resident set size in bytes (`VmHWM` in /proc/self/status), or nil
    /// where that file does not exist (not Linux) or lacks the field.
    public static func peakMemoryBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        return parsePeakMemory(status: text)
    }

    /// `VmHWM` from the text of a /proc/PID/status file, in bytes (the file gives kB).
    public static func parsePeakMemory(status: String) -> Int? {
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let fields = line.dropFirst("VmHWM:".count).split(whereSeparator: \.isWhitespace)
            guard let kilobytes = fields.first.flatMap({ Int($0) }) else { return nil }
            let unit = fields.count > 1 ? fields[1].lowercased() : "kb"
            return unit == "kb" ? kilobytes * 1024 : kilobytes
        }
        return nil
    }

    /// Resets the peak so the next `peakMemoryBytes()` covers only what follows: writes "5" to
    /// /proc/self/clear_refs (Linux ≥ 4.0). Returns false where that is not possible, in which
    /// case the peak stays the whole process's.
    @discardableResult
    public static func resetPeakMemory() -> Bool {
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)); return true } catch { return false }
    }

    /// The median wall-clock time of `body` in milliseconds, over `repeats` timed runs after
    /// `warmup` untimed ones. The median shrugs off the odd run slowed by a neighbour on shared cores.
    public static func medianMilliseconds(repeats: Int = 5, warmup: Int = 1, _ body: () throws -> Void) rethrows -> Double {
        precondition(repeats >= 1, "medianMilliseconds: repeats must be ≥ 1")
        for _ in 0..<max(0, warmup) { try body() }
        var times: [Double] = []
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        return median(times)
    }

    /// The median of a non-empty sample (the mean of the middle two for an even count).
    public static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median: no values")
        let s = values.sorted(), m = s.count / 2
        return s.count % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2
    }
}
