import Foundation

/// Splits large elementwise work across the cores. Small work runs inline: below `grain`
/// elements, waking a second thread costs more than it saves.
public enum Parallel {
    /// Threads for elementwise kernels and GEMM blocks (OpenBLAS itself runs single-threaded).
    public nonisolated(unsafe) static var workers = ProcessInfo.processInfo.activeProcessorCount

    /// Calls `body(range)` over disjoint ranges covering 0..<count, in parallel when it pays.
    @inline(__always)
    public static func forRanges(_ count: Int, grain: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        let chunks = Swift.min(workers, count / Swift.max(grain, 1))
        if chunks <= 1 { body(0..<count); return }
        let size = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let start = c * size
            let end = Swift.min(count, start + size)
            if start < end { body(start..<end) }
        }
    }
}
