import Hummingbird
import NanoCheckpoint
import NIOCore

/// Routes a request to its endpoint and turns every refusal into OpenAI's error JSON; no error
/// escapes to the HTTP layer, so a bad request never takes the server down.
struct ServeResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let models: [String: ServedModel]
    /// Model names in the order given (`/v1/models`).
    let order: [String]
    let apiKey: String?
    let maxBodyBytes: Int

    /// Each route and the one method it accepts.
    static let routes: [String: HTTPRequest.Method] = [
        "/health": .get, "/v1/models": .get,
        "/v1/embeddings": .post, "/v1/completions": .post, "/v1/chat/completions": .post, "/tokenize": .post,
    ]

    func respond(to request: Request, context: Context) async throws -> Response {
        do {
            return try await route(request)
        } catch let e as APIError {
            return HTTPReplies.error(e)
        } catch {
            return HTTPReplies.error(APIError(status: 500, message: "internal error: \(error)", type: "server_error", code: "internal_error"))
        }
    }

    private func route(_ request: Request) async throws -> Response {
        var path = request.uri.path
        if path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        guard let method = Self.routes[path] else { throw APIError.notFound(path) }
        guard request.method == method else {
            var response = HTTPReplies.error(.methodNotAllowed(request.method.rawValue, path, allowed: method.rawValue))
            response.headers[.allow] = method.rawValue
            return response
        }
        if path == "/health" { return HTTPReplies.json(.object([("status", .string("ok"))])) }
        try authorize(request)
        if path == "/v1/models" { return HTTPReplies.json(modelList) }

        let fields = try RequestFields(body: try await body(request))
        // `/tokenize` may leave out `model` when the server has one (llama.cpp's has no such field).
        let name = path == "/tokenize" && fields["model"] == nil && order.count == 1 ? order[0] : try fields.requiredString("model")
        guard let model = models[name] else { throw APIError.unknownModel(name, served: order) }
        switch (path, model) {
        case ("/v1/embeddings", .encoder(let encoder)):
            return try await EmbeddingsEndpoint(encoder: encoder).respond(fields, model: name)
        case ("/v1/completions", .decoder(let decoder)):
            return try await CompletionEndpoint(decoder: decoder, request: try CompletionRequest(fields, kind: .text, decoder: decoder)).respond()
        case ("/tokenize", .decoder(let decoder)):
            return try TokenizeEndpoint(decoder: decoder).respond(fields)
        case ("/v1/chat/completions", .decoder(let decoder)):
            return try await CompletionEndpoint(decoder: decoder, request: try CompletionRequest(fields, kind: .chat, decoder: decoder)).respond()
        default:
            throw APIError.wrongKind(name, is: model.kindDescription, endpoint: path)
        }
    }

    /// `Authorization: Bearer KEY` when the server has a key.
    private func authorize(_ request: Request) throws {
        guard let apiKey else { return }
        guard let header = request.headers[.authorization] else { throw APIError.missingKey }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix) else { throw APIError.missingKey }
        // Compared in full, without an early exit, so timing tells nothing of the key.
        let given = Array(header.dropFirst(prefix.count).utf8), expected = Array(apiKey.utf8)
        var difference = given.count ^ expected.count
        for i in 0..<max(given.count, expected.count) {
            difference |= Int((i < given.count ? given[i] : 0) ^ (i < expected.count ? expected[i] : 0))
        }
        guard difference == 0 else { throw APIError.wrongKey }
    }

    /// The body, refused with 413 past `maxBodyBytes` (declared or read).
    private func body(_ request: Request) async throws -> [UInt8] {
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
        do {
            var buffer = try await request.body.collect(upTo: maxBodyBytes)
            return buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit: maxBodyBytes)
        }
    }

    private var modelList: JSONValue {
        .object([("object", .string("list")), ("data", .array(order.map { name in
            .object([("id", .string(name)), ("object", .string("model")), ("created", .int(0)), ("owned_by", .string("nanoforge"))])
        }))])
    }
}
