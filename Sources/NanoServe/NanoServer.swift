import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `nanoforge serve`'s settings.
public struct ServeConfiguration: Sendable {
    /// The address to bind: loopback unless asked otherwise.
    public var host = "127.0.0.1"
    /// 0 picks a free port (the bound port is reported to `onListening`).
    public var port = 8080
    /// When set, `/v1/*` needs `Authorization: Bearer KEY` (`/health` does not).
    public var apiKey: String?
    /// Larger request bodies are refused with 413.
    public var maxBodyBytes = 4 << 20
    public init() {}
}

/// An OpenAI-compatible HTTP server (Hummingbird 2) for the models it is given: embeddings for
/// sentence encoders, completions and chat completions for Llama-family decoders, `/v1/models`
/// and `/health`. docs/serve.md lists the endpoints and every error.
public struct NanoServer: Sendable {
    public let models: [ServedModel]
    public let configuration: ServeConfiguration

    /// Model names must be distinct.
    public init(models: [ServedModel], configuration: ServeConfiguration) throws {
        var seen = Set<String>()
        for m in models where !seen.insert(m.name).inserted { throw ServeError.duplicateName(m.name) }
        self.models = models; self.configuration = configuration
    }

    var responder: ServeResponder {
        ServeResponder(models: Dictionary(uniqueKeysWithValues: models.map { ($0.name, $0) }), order: models.map(\.name),
                       apiKey: configuration.apiKey, maxBodyBytes: configuration.maxBodyBytes)
    }

    /// The Hummingbird application; `onListening` receives the bound host and port once the
    /// server accepts connections.
    func application(onListening: @escaping @Sendable (String, Int) async -> Void) -> some ApplicationProtocol {
        var logger = Logger(label: "nanoforge.serve")
        logger.logLevel = .warning
        let host = configuration.host
        return Application(responder: responder,
                           configuration: ApplicationConfiguration(address: .hostname(host, port: configuration.port), serverName: "nanoforge"),
                           onServerRunning: { channel in await onListening(host, channel.localAddress?.port ?? 0) },
                           logger: logger)
    }

    /// Serves until `stop()` on the returned handle, or SIGTERM/SIGINT when `signals`: then it
    /// stops accepting connections, finishes the requests in flight and ends (ServiceLifecycle's
    /// graceful shutdown). Returns once the server accepts connections.
    public func start(signals: Bool = false) async throws -> RunningServer {
        let (bound, continuation) = AsyncStream<(String, Int)>.makeStream()
        let app = application { host, port in continuation.yield((host, port)) }
        var logger = Logger(label: "nanoforge.serve")
        logger.logLevel = .warning
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [], logger: logger))
        let task: Task<Void, Error>
        if #available(macOS 15.0, *) {
            task = Task(executorPreference: ServeExecutor.shared) {
                defer { continuation.finish() }
                try await group.run()
            }
        } else {
            task = Task {
                defer { continuation.finish() }
                try await group.run()
            }
        }
        for await (host, port) in bound { return RunningServer(host: host, port: port, group: group, task: task) }
        // The server ended before it listened: its error.
        try await task.value
        throw ServeError.unsupported(path: "\(configuration.host):\(configuration.port)", reason: "the server stopped before it listened")
    }
}

/// A started `NanoServer`.
public struct RunningServer: Sendable {
    public let host: String
    /// The bound port (the one picked when asked for port 0).
    public let port: Int
    let group: ServiceGroup
    let task: Task<Void, Error>

    /// Graceful shutdown: no new connections, the requests in flight finish; returns when it is done.
    public func stop() async throws {
        await group.triggerGracefulShutdown()
        try await task.value
    }

    /// Waits until the server ends (after `stop()` or a signal).
    public func wait() async throws { try await task.value }
}
