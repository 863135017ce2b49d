import Hummingbird
import Logging
import NIOCore

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

    /// Serves until the task is cancelled (in-flight requests are finished first).
    public func run(onListening: @escaping @Sendable (String, Int) async -> Void) async throws {
        try await application(onListening: onListening).run()
    }

    /// Serves until SIGTERM or SIGINT: then it stops accepting connections, finishes the requests
    /// in flight and returns (ServiceLifecycle's graceful shutdown).
    public func runUntilSignalled(onListening: @escaping @Sendable (String, Int) async -> Void) async throws {
        try await application(onListening: onListening).runService()
    }
}
