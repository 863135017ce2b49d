/// Finds added tokens (`<|im_start|>`, `<|endoftext|>`, …) in text as Hugging Face `tokenizers`
/// does before pre-tokenization: leftmost match first, the longest token at that position.
struct AddedTokenMatcher: Sendable {
    struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int
        /// Special tokens are matched only when the caller allows it; other added tokens always.
        var special: Bool
    }

    /// Entries by first byte, longest first.
    private let byFirstByte: [[Entry]]
    let isEmpty: Bool

    init(_ entries: [Entry]) {
        var table = [[Entry]](repeating: [], count: 256)
        for e in entries where !e.bytes.isEmpty { table[Int(e.bytes[0])].append(e) }
        for b in 0..<256 { table[b].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = entries.allSatisfy { $0.bytes.isEmpty }
    }

    /// The token starting at byte `offset` of `text`, if any (the longest).
    func match(_ text: UnsafeBufferPointer<UInt8>, at offset: Int, allowSpecial: Bool) -> Entry? {
        let candidates = byFirstByte[Int(text[offset])]
        guard !candidates.isEmpty else { return nil }
        for e in candidates where (allowSpecial || !e.special) && offset + e.bytes.count <= text.count {
            var equal = true
            for k in 1..<e.bytes.count where text[offset + k] != e.bytes[k] { equal = false; break }
            if equal { return e }
        }
        return nil
    }
}
