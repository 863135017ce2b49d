import CSIMDIntrinsics
import Foundation

/// Splits large elementwise work across the cores. Small work runs inline: below `grain`
/// elements, waking a second thread costs more than it saves.
public enum Parallel {
    /// The cores this process may use: `workers` at start-up.
    public static let defaultWorkers = ProcessInfo.processInfo.activeProcessorCount
    /// Threads for elementwise kernels and GEMM blocks (OpenBLAS itself runs single-threaded).
    public nonisolated(unsafe) static var workers = defaultWorkers

    /// Calls `body(i)` for every i in 0..<iterations, on this thread and up to `workers − 1` others,
    /// each taking the next index; returns when all are done. The region runs on nanoforge's
    /// spinning pool (`nf_pool_run`, worker_pool.c), whose helpers start a region in well under a
    /// microsecond while they are spinning: regions of tens of microseconds (the runtime's GEMMs
    /// at batch 1) then gain from a second core, where waking a sleeping libdispatch worker costs
    /// about as much as the work. A nested or concurrent region, which the one pool cannot take,
    /// runs on `DispatchQueue.concurrentPerform` as before.
    public static func perform(iterations: Int, _ body: (Int) -> Void) {
        if iterations <= 1 || workers <= 1 {
            for i in 0..<iterations { body(i) }
            return
        }
        Pool.configure
        let ran = withoutActuallyEscaping(body) { body -> Bool in
            var body = body
            return withUnsafeMutablePointer(to: &body) { pointer in
                nf_pool_run(iterations, workers, { context, index in
                    context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(index)
                }, pointer) == 0
            }
        }
        if !ran { DispatchQueue.concurrentPerform(iterations: iterations, execute: body) }
    }

    /// Calls `body(range)` over disjoint ranges covering 0..<count, in parallel when it pays.
    @inline(__always)
    public static func forRanges(_ count: Int, grain: Int = 1 << 16, _ body: (Range<Int>) -> Void) {
        let chunks = Swift.min(workers, count / Swift.max(grain, 1))
        if chunks <= 1 { body(0..<count); return }
        let size = (count + chunks - 1) / chunks
        perform(iterations: chunks) { c in
            let start = c * size
            let end = Swift.min(count, start + size)
            if start < end { body(start..<end) }
        }
    }

    /// The pool's one-time settings: `NANOFORGE_SPIN_US` (microseconds a helper spins after a
    /// region before sleeping; default 1000, 0 sleeps at once).
    private enum Pool {
        static let configure: Void = {
            if let text = ProcessInfo.processInfo.environment["NANOFORGE_SPIN_US"], let us = Int(text), us >= 0 {
                nf_pool_set_spin_microseconds(us)
            }
        }()
    }
}
