/// Turns a growing list of generated tokens into text deltas: it decodes the whole continuation
/// each time and hands out what is new, so a multi-byte character split across tokens comes out
/// whole. A trailing U+FFFD is held back while the next token may still complete it.
public struct IncrementalDetokenizer {
    public let codec: any TokenCodec
    public private(set) var tokens: [Int] = []
    /// The text handed out so far.
    public private(set) var emitted = ""

    public init(codec: any TokenCodec) { self.codec = codec }

    /// Adds `token` and returns the text that became final with it (often empty).
    public mutating func append(_ token: Int) -> String {
        tokens.append(token)
        let text = codec.decode(tokens)
        guard !text.hasSuffix("\u{FFFD}"), text.hasPrefix(emitted) else { return "" }
        let delta = String(text.dropFirst(emitted.count))
        emitted = text
        return delta
    }

    /// The text not handed out yet, held-back pieces included: call once at the end.
    public mutating func finish() -> String {
        let text = codec.decode(tokens)
        guard text.hasPrefix(emitted) else { return "" }
        let delta = String(text.dropFirst(emitted.count))
        emitted = text
        return delta
    }
}
