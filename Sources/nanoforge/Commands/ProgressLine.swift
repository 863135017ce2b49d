import Foundation

/// Progress on stderr: a bar redrawn in place on a terminal, occasional plain lines otherwise.
final class ProgressLine {
    let label: String
    let total: Int
    let isTerminal = isatty(STDERR_FILENO) != 0
    let start = ContinuousClock.now
    private var lastPrinted = ContinuousClock.now

    init(label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    func update(_ done: Int) {
        let now = ContinuousClock.now
        let elapsed = (now - start).seconds
        let fraction = Double(done) / Double(total)
        let eta = fraction > 0 ? elapsed * (1 - fraction) / fraction : 0
        if isTerminal {
            let width = 30, filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            write("\r\(label) \(bar) \(done)/\(total)  \(String(format: "%.1f", elapsed)) s, ETA \(String(format: "%.0f", eta)) s")
        } else if (now - lastPrinted).seconds >= 5 || done == total {
            lastPrinted = now
            write("\(label): \(done)/\(total) (\(String(format: "%.0f", fraction * 100)) %), \(String(format: "%.1f", elapsed)) s elapsed, ETA \(String(format: "%.0f", eta)) s\n")
        }
    }

    func finish() { if isTerminal { write("\n") } }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}

/// Progress over a run's steps with log lines in between: on a terminal, a bar with the current
/// step's name and an ETA (from the mean time per finished step) stays on the last line while
/// log lines scroll above it; otherwise only the log lines are written, plain.
final class StepProgress {
    let isTerminal = isatty(STDERR_FILENO) != 0
    let start = ContinuousClock.now
    private var bar = ""

    func log(_ line: String) {
        guard isTerminal else { write(line + "\n"); return }
        write("\r\u{1B}[K" + line + "\n" + bar)
    }

    func update(_ done: Int, _ total: Int, _ name: String) {
        guard isTerminal else { return }
        let elapsed = (ContinuousClock.now - start).seconds
        let fraction = Double(done) / Double(max(total, 1))
        let eta = done > 0 ? String(format: "ETA %.0f s", elapsed / Double(done) * Double(total - done)) : "ETA –"
        let width = 24, filled = Int(fraction * Double(width))
        bar = "[" + String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled) + "] "
            + "\(done)/\(total) \(name)  \(String(format: "%.0f", elapsed)) s, \(eta)"
        write("\r\u{1B}[K" + bar)
    }

    func finish() { if isTerminal { write("\r\u{1B}[K") } }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
}
