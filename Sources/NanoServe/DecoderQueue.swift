import Foundation

/// Runs one decoder's completions one at a time on a thread of their own (the HTTP event loops
/// and Swift's cooperative threads never wait on a forward pass), in arrival order, and admits
/// at most `limit` requests at once, running or waiting: one more is refused (429) rather
/// than queued without bound.
final class DecoderQueue: @unchecked Sendable {
    let admission: AdmissionLimit
    private let queue: DispatchQueue

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
            defer { self.admission.release() }
            // A client that left while waiting costs nothing.
            guard !flag.isSet else { continuation.finish(); return }
            body({ continuation.yield($0) }, { flag.isSet })
            continuation.finish()
        }
        return stream
    }
}

/// A flag set from another thread.
final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.withLock { value = true } }
    var isSet: Bool { lock.withLock { value } }
}
