import Foundation
import NanoRuntime

/// Batches the embedding requests of concurrent clients for one encoder: the first request
/// opens a short collection window; when it closes, or when `maxBatch` rows wait, every waiting
/// row runs in batches sorted by length (`maxBatch` rows each) on the encoder's own thread, and
/// each request gets its rows back. `RuntimeEncoder` is batch-invariant (a sentence's embedding
/// is bit-identical whatever batch carries it), so batching changes speed only, never results.
final class EmbeddingBatcher: @unchecked Sendable {
    let encoder: RuntimeEncoder
    let window: Duration
    let maxBatch: Int
    private let queue: DispatchQueue
    private let lock = NSLock()
    private var waiting: [(rows: [[Int]], done: CheckedContinuation<[[Float]], Never>)] = []
    private var flushScheduled = false
    private var flushGeneration = 0
    /// Forward passes run and the most requests one collection served (tests and logs read them).
    private(set) var statistics = (batches: 0, collections: 0, mostRequestsInOneCollection: 0)

    init(encoder: RuntimeEncoder, name: String, window: Duration = .milliseconds(2), maxBatch: Int = 32) {
        precondition(maxBatch > 0, "EmbeddingBatcher: maxBatch must be positive")
        self.encoder = encoder; self.window = window; self.maxBatch = maxBatch
        queue = DispatchQueue(label: "nanoforge.serve.encoder.\(name)", qos: .userInitiated)
    }

    var currentStatistics: (batches: Int, collections: Int, mostRequestsInOneCollection: Int) { lock.withLock { statistics } }

    /// L2-normalised embeddings of token-id rows, in order.
    func embed(_ rows: [[Int]]) async -> [[Float]] {
        guard !rows.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            lock.withLock {
                waiting.append((rows, continuation))
                let pendingRows = waiting.reduce(0) { $0 + $1.rows.count }
                if pendingRows >= maxBatch {
                    flushGeneration += 1
                    flushScheduled = false
                    queue.async { self.flush() }
                } else if !flushScheduled {
                    flushScheduled = true
                    let generation = flushGeneration
                    let nanoseconds = window.components.seconds * 1_000_000_000 + window.components.attoseconds / 1_000_000_000
                    queue.asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
                        // A flush forced by a full batch since made this timer stale.
                        let stale = self.lock.withLock { generation != self.flushGeneration }
                        if !stale { self.flush() }
                    }
                }
            }
        }
    }

    /// Runs every waiting request (on `queue`).
    private func flush() {
        let taken = lock.withLock { () -> [(rows: [[Int]], done: CheckedContinuation<[[Float]], Never>)] in
            let t = waiting
            waiting = []
            flushScheduled = false
            flushGeneration += 1
            return t
        }
        guard !taken.isEmpty else { return }
        // (request, row) of every row, shortest first so a batch pads little.
        var order: [(request: Int, row: Int)] = []
        for (r, item) in taken.enumerated() { for i in item.rows.indices { order.append((r, i)) } }
        order.sort { taken[$0.request].rows[$0.row].count < taken[$1.request].rows[$1.row].count }
        var results = taken.map { [[Float]](repeating: [], count: $0.rows.count) }
        var batches = 0
        for start in stride(from: 0, to: order.count, by: maxBatch) {
            let slice = order[start..<min(start + maxBatch, order.count)]
            let out = encoder.embeddings(tokenIds: slice.map { taken[$0.request].rows[$0.row] })
            let d = out.shape[1]
            for (k, place) in slice.enumerated() { results[place.request][place.row] = Array(out.scalars[(k * d)..<((k + 1) * d)]) }
            batches += 1
        }
        lock.withLock {
            statistics.batches += batches
            statistics.collections += 1
            statistics.mostRequestsInOneCollection = max(statistics.mostRequestsInOneCollection, taken.count)
        }
        for (r, item) in taken.enumerated() { item.done.resume(returning: results[r]) }
    }
}
