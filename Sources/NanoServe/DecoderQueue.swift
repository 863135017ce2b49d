import Foundation

/// Runs one decoder's work on a serial queue of its own (the HTTP event loops and Swift's
/// cooperative threads never wait on a forward pass) and admits at most `limit` requests at once,
/// running or waiting: one more is refused (429) rather than queued without bound.
///
/// Completions are batched across clients (continuous batching): one job on the queue prefills
/// each arriving request, then advances every running completion by one token in a single pass
/// (`LlamaModel.decodeStep`), taking in new arrivals between passes and dropping finished ones,
/// until none is left. On the packed runtime a completion's tokens and log-probabilities are
/// then bit-identical to running it alone.
final class DecoderQueue: @unchecked Sendable {
    let admission: AdmissionLimit
    private let queue: DispatchQueue
    private let lock = NSLock()
    private var pending: [PendingGeneration] = []
    private var batching = false
    private var statistics = (passes: 0, largestBatch: 0)

    /// Decoding passes run by the batch loop so far, and the most completions one pass advanced.
    var batchStatistics: (passes: Int, largestBatch: Int) { lock.withLock { statistics } }

    /// A completion admitted and waiting for the batch loop.
    private struct PendingGeneration {
        var request: GenerationRequest
        var emit: (GenerationEvent) -> Void
        var cancelled: () -> Bool
        var finish: () -> Void
    }

    init(name: String, limit: Int) {
        admission = AdmissionLimit(name: name, limit: limit)
        queue = DispatchQueue(label: "nanoforge.serve.decoder.\(name)", qos: .userInitiated)
    }

    /// Admits a job that reports events: `body` runs on the queue with a way to report events
    /// and to ask whether the consumer went away; the stream ends when `body` returns.
    /// Throws `APIError.busy` when `limit` requests are already in flight.
    func submit<Event: Sendable>(_ body: @escaping @Sendable (_ emit: (Event) -> Void, _ cancelled: () -> Bool) -> Void) throws -> AsyncStream<Event> {
        try admission.acquire()
        let flag = CancellationFlag()
        let (stream, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { reason in if case .cancelled = reason { flag.set() } }
        queue.async {
            // The slot is free before the stream ends (see `submitGeneration`).
            defer { continuation.finish() }
            defer { self.admission.release() }
            // A client that left while waiting costs nothing.
            guard !flag.isSet else { return }
            body({ continuation.yield($0) }, { flag.isSet })
        }
        return stream
    }
}

extension DecoderQueue {
    /// Admits `request` into the batch loop of `generation`'s model; the stream ends after
    /// `.finished`. Throws `APIError.busy` when `limit` requests are already in flight.
    func submitGeneration(_ request: GenerationRequest, on generation: TextGeneration) throws -> AsyncStream<GenerationEvent> {
        try admission.acquire()
        let flag = CancellationFlag()
        let (stream, continuation) = AsyncStream<GenerationEvent>.makeStream(bufferingPolicy: .unbounded)
        continuation.onTermination = { reason in if case .cancelled = reason { flag.set() } }
        let item = PendingGeneration(request: request, emit: { continuation.yield($0) }, cancelled: { flag.isSet },
                                     // Released before the stream ends: the client may send its next request
                                     // as soon as it has this reply, and must find the slot free.
                                     finish: { self.admission.release(); continuation.finish() })
        let startLoop: Bool = lock.withLock {
            pending.append(item)
            defer { batching = true }
            return !batching
        }
        if startLoop { queue.async { self.runBatches(generation) } }
        return stream
    }

    /// The batch loop: runs until no completion is running or waiting.
    private func runBatches(_ generation: TextGeneration) {
        var running: [(state: GenerationState, next: Int, finish: () -> Void)] = []
        let vocabulary = generation.model.configuration.vocabularySize
        while true {
            let arrivals: [PendingGeneration] = lock.withLock {
                let taken = pending
                pending = []
                if taken.isEmpty && running.isEmpty { batching = false }
                return taken
            }
            if arrivals.isEmpty && running.isEmpty { return }
            for item in arrivals {
                // A client that left while waiting costs nothing.
                guard !item.cancelled(), let state = generation.start(item.request, cancelled: item.cancelled, emit: item.emit),
                      let next = generation.sample(state) else { item.finish(); continue }
                running.append((state, next, item.finish))
            }
            guard !running.isEmpty else { continue }
            lock.withLock { statistics = (statistics.passes + 1, Swift.max(statistics.largestBatch, running.count)) }
            let logits = generation.model.decodeStep(running.map(\.next), caches: running.map(\.state.cache)).scalars
            var still: [(state: GenerationState, next: Int, finish: () -> Void)] = []
            for (i, entry) in running.enumerated() {
                entry.state.logits = Array(logits[(i * vocabulary)..<((i + 1) * vocabulary)])
                if let next = generation.sample(entry.state) { still.append((entry.state, next, entry.finish)) } else { entry.finish() }
            }
            running = still
        }
    }
}

/// A flag set from another thread.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
