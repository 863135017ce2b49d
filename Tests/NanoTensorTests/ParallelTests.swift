import Foundation
import Synchronization
import Testing
import NanoTensor

/// `Parallel.perform` on the spinning pool (worker_pool.c): every index runs exactly once, on the
/// caller's thread and the pool's helpers, whether the helpers are spinning, asleep or busy
/// with another caller's region (which then runs on libdispatch).
@Suite struct ParallelTests {
    /// Counts of how often each index ran, from several threads at once.
    final class Hits: @unchecked Sendable {
        let counts: UnsafeMutablePointer<Atomic<Int>>
        let n: Int
        init(_ n: Int) {
            self.n = n
            counts = .allocate(capacity: max(n, 1))
            for i in 0..<n { (counts + i).initialize(to: Atomic(0)) }
        }
        func hit(_ i: Int) { counts[i].add(1, ordering: .relaxed) }
        var all: [Int] { (0..<n).map { counts[$0].load(ordering: .relaxed) } }
        deinit { counts.deinitialize(count: n); counts.deallocate() }
    }

    @Test(arguments: [0, 1, 2, 3, 7, 64, 1000, 70_000])
    func everyIndexRunsOnce(iterations: Int) {
        let hits = Hits(iterations)
        Parallel.perform(iterations: iterations) { hits.hit($0) }
        #expect(hits.all == [Int](repeating: 1, count: iterations), "\(iterations) iterations")
    }

    /// Thousands of back-to-back short regions (the runtime's pattern at batch 1), with pauses
    /// long enough for the helpers to fall asleep between some of them.
    @Test func backToBackRegionsAndSleepingHelpers() throws {
        let regions = 20_000, iterations = 3
        let hits = Hits(regions * iterations)
        for r in 0..<regions {
            Parallel.perform(iterations: iterations) { hits.hit(r * iterations + $0) }
            if r % 5_000 == 4_999 { Thread.sleep(forTimeInterval: 0.005) }   // past the 1 ms spin
        }
        let counts = hits.all
        #expect(counts.allSatisfy { $0 == 1 }, "indices run other than once: \(counts.enumerated().filter { $0.element != 1 }.prefix(5))")
    }

    /// A region started from inside a region, and regions started from several threads at once,
    /// cannot have the pool: they still run every index once (on libdispatch).
    @Test func nestedAndConcurrentRegions() {
        let outer = 4, inner = 5
        let nested = Hits(outer * inner)
        Parallel.perform(iterations: outer) { o in
            Parallel.perform(iterations: inner) { nested.hit(o * inner + $0) }
        }
        #expect(nested.all == [Int](repeating: 1, count: outer * inner))

        let callers = 4, regions = 500, iterations = 4
        let concurrent = Hits(callers * regions * iterations)
        DispatchQueue.concurrentPerform(iterations: callers) { c in
            for r in 0..<regions {
                Parallel.perform(iterations: iterations) { concurrent.hit((c * regions + r) * iterations + $0) }
            }
        }
        #expect(concurrent.all.allSatisfy { $0 == 1 })
    }

    /// The work really is shared when a second core exists: over regions whose bodies take a while,
    /// some index runs on a thread other than the caller's (within 30 s, however loaded the machine).
    /// `Parallel.workers` is process-wide and other suites running at the same time set it to 1 for
    /// a moment (the runtime's one-thread kernel checks), so the test waits for regions that run
    /// with more than one rather than reading it once.
    @Test func helpersTakeWork() throws {
        try #require(ProcessInfo.processInfo.activeProcessorCount > 1, "one core: nothing to share")
        let caller = pthread_self()
        let others = Atomic<Int>(0)
        let deadline = ContinuousClock.now + .seconds(30)
        while others.load(ordering: .relaxed) == 0 && ContinuousClock.now < deadline {
            Parallel.perform(iterations: 2) { _ in
                var x = 0.0
                for k in 0..<20_000 { x += Double(k).squareRoot() }
                if pthread_equal(pthread_self(), caller) == 0 && x > 0 { others.add(1, ordering: .relaxed) }
            }
        }
        #expect(others.load(ordering: .relaxed) > 0)
    }
}
