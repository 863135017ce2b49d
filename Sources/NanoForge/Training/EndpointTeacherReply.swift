import Foundation
import NanoCheckpoint

/// The log-probabilities in a `/v1/completions` reply, in either shape servers give them:
/// OpenAI's legacy `logprobs: {tokens, token_logprobs, top_logprobs: [{text: logprob} | null]}`
/// (vLLM, nanoforge serve; keys are `token_id:N` with vLLM's `return_tokens_as_token_ids`), or
/// llama.cpp's `logprobs: {content: [{id, token, bytes, logprob, top_logprobs: [{id, token, bytes, logprob}]}]}`.
enum EndpointTeacherReply {
    /// One alternative at a position: what the server says of the token, and its log-probability.
    struct Entry: Equatable {
        var id: Int?
        var bytes: [UInt8]?
        var text: String
        var logprob: Double
    }

    /// The alternatives of each position of choice 0, in order; nil where the server gives none
    /// (the first prompt token).
    static func positions(_ reply: JSONValue) throws -> [[Entry]?] {
        guard let choice = reply["choices"]?.array?.first else { throw problem("no choices[0]") }
        guard let logprobs = choice["logprobs"], logprobs != .null else { throw problem("choices[0].logprobs is missing") }
        if let content = logprobs["content"]?.array {
            return try content.map { item in
                guard let top = item["top_logprobs"]?.array else { throw problem("a logprobs.content item has no top_logprobs") }
                return try top.map(entry)
            }
        }
        guard let top = logprobs["top_logprobs"]?.array else { throw problem("choices[0].logprobs has neither top_logprobs nor content") }
        return try top.map { position in
            if position == .null { return nil }
            guard let members = position.members else { throw problem("a top_logprobs item is not an object") }
            return try members.map { key, value in
                guard let lp = value.number else { throw problem("top_logprobs[\(key.debugDescription)] is not a number") }
                let prefix = "token_id:"
                let id = key.hasPrefix(prefix) ? Int(key.dropFirst(prefix.count)) : nil
                return Entry(id: id, bytes: nil, text: key, logprob: lp)
            }
        }
    }

    /// `{id, token, bytes, logprob}` (llama.cpp; `prob` when it was asked for post-sampling probabilities).
    private static func entry(_ value: JSONValue) throws -> Entry {
        let lp: Double
        if let l = value["logprob"]?.number { lp = l } else if let p = value["prob"]?.number, p > 0 { lp = Foundation.log(p) } else {
            throw problem("a top_logprobs entry has no logprob")
        }
        let bytes = value["bytes"]?.array.map { $0.compactMap { $0.int.map { UInt8(truncatingIfNeeded: $0) } } }
        return Entry(id: value["id"]?.int, bytes: bytes, text: value["token"]?.string ?? "", logprob: lp)
    }

    struct Problem: Error, CustomStringConvertible { let description: String }
    static func problem(_ s: String) -> Problem { Problem(description: "unexpected reply: " + s) }
}
