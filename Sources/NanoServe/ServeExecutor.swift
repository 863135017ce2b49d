import Foundation

/// Where the server's async work runs (Hummingbird's connection tasks, the responders, the
/// resumptions after a forward pass): one dispatch queue of its own rather than Swift's shared
/// cooperative threads, so a host process that keeps those threads busy with long synchronous
/// work (a test runner, say, with as many threads as cores) cannot stall the server. A serial
/// queue always gets a thread from libdispatch (concurrent queues wait for an idle core); the
/// forward passes themselves run on each model's own queue.
@available(macOS 15.0, *)
public final class ServeExecutor: TaskExecutor, @unchecked Sendable {
    public static let shared = ServeExecutor(label: "nanoforge.serve.executor")
    private let queue: DispatchQueue

    public init(label: String) { queue = DispatchQueue(label: label, qos: .userInitiated) }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}
