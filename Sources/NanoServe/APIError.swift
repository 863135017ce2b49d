import NanoCheckpoint

/// A request the server refuses, as OpenAI's error JSON
/// (`{"error": {"message", "type", "param", "code"}}`) with its HTTP status. Each case of the
/// bad-request table in docs/serve.md is one constructor here.
public struct APIError: Error, Equatable, CustomStringConvertible {
    public let status: Int
    public let message: String
    public let type: String
    public let param: String?
    public let code: String?

    public init(status: Int, message: String, type: String = "invalid_request_error", param: String? = nil, code: String? = nil) {
        self.status = status; self.message = message; self.type = type; self.param = param; self.code = code
    }

    public var description: String { "\(status) \(code ?? type): \(message)" }

    /// The JSON body.
    public var json: JSONValue {
        .object([("error", .object([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map(JSONValue.string) ?? .null), ("code", code.map(JSONValue.string) ?? .null),
        ]))])
    }

    static func malformedJSON(_ reason: String) -> APIError {
        APIError(status: 400, message: "the request body is not valid JSON: \(reason)", code: "invalid_json")
    }
    static func wrongType(_ param: String, expected: String) -> APIError {
        APIError(status: 400, message: "'\(param)' must be \(expected)", param: param, code: "invalid_type")
    }
    static func invalidValue(_ param: String, _ reason: String) -> APIError {
        APIError(status: 400, message: "'\(param)' \(reason)", param: param, code: "invalid_value")
    }
    static func missing(_ param: String) -> APIError {
        APIError(status: 400, message: "'\(param)' is required", param: param, code: "missing_required_parameter")
    }
    static func unknownModel(_ name: String, served: [String]) -> APIError {
        APIError(status: 404, message: "the model '\(name)' does not exist; this server has: \(served.joined(separator: ", "))",
                 param: "model", code: "model_not_found")
    }
    static func wrongKind(_ name: String, is kind: String, endpoint: String) -> APIError {
        APIError(status: 400, message: "the model '\(name)' is \(kind) and cannot serve \(endpoint)", param: "model", code: "model_not_supported")
    }
    static func contextExceeded(prompt: Int, completion: Int, context: Int, param: String) -> APIError {
        APIError(status: 400, message: "this model's maximum context length is \(context) tokens; the request asks for \(prompt + completion) "
                 + "(\(prompt) in the prompt, \(completion) for the completion)", param: param, code: "context_length_exceeded")
    }
    static let missingKey = APIError(status: 401, message: "this server needs an API key: send 'Authorization: Bearer KEY'", code: "invalid_api_key")
    static let wrongKey = APIError(status: 401, message: "incorrect API key", code: "invalid_api_key")
    static func tooLarge(limit: Int) -> APIError {
        APIError(status: 413, message: "the request body exceeds \(limit) bytes (--max-body-bytes)", code: "request_too_large")
    }
    static func notFound(_ path: String) -> APIError {
        APIError(status: 404, message: "no route \(path)", code: "not_found")
    }
    static func methodNotAllowed(_ method: String, _ path: String, allowed: String) -> APIError {
        APIError(status: 405, message: "\(path) accepts \(allowed), not \(method)", code: "method_not_allowed")
    }
    static func busy(_ name: String, limit: Int) -> APIError {
        APIError(status: 429, message: "the model '\(name)' already has \(limit) requests in flight (--max-concurrency); retry later",
                 type: "server_busy", code: "server_busy")
    }
}
