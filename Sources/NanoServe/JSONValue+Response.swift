import Foundation
import NanoCheckpoint

extension JSONValue {
    /// A Float as the shortest decimal that reads back as the same Float (`-0.6931472`, not
    /// the Double expansion `-0.693147182464599`), so clients parsing float32 get the exact value.
    static func float(_ x: Float) -> JSONValue {
        guard x.isFinite else { return .null }
        return .number(Double(x.description) ?? Double(x))
    }

    static func int(_ n: Int) -> JSONValue { .number(Double(n)) }

    /// An optional value, `null` when absent.
    static func optional(_ v: JSONValue?) -> JSONValue { v ?? .null }

    /// Seconds since 1970, as OpenAI's `created`.
    static var now: JSONValue { .int(Int(Date().timeIntervalSince1970)) }

    /// `prefix` + 24 random hexadecimal digits: a response id (`cmpl-…`, `chatcmpl-…`).
    static func responseID(_ prefix: String) -> String {
        prefix + (0..<24).map { _ in String(Int.random(in: 0..<16), radix: 16) }.joined()
    }
}
