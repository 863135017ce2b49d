import NanoModels

/// A small byte-level BPE tokenizer trained here on a text (most frequent adjacent pair first, as
/// GPT-2's merges were made), with the 256 byte tokens, added special tokens and a chat template:
/// merge chains several levels deep, so vocabulary trimming meets real intermediates.
enum BPETestTokenizer {
    static let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    static let chatTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"

    /// GPT-2-style words: a leading space belongs to the word after it.
    static func words(_ text: String) -> [[UInt8]] {
        var words: [[UInt8]] = [], current: [UInt8] = []
        for b in text.utf8 {
            if (b == 0x20 || b == 0x0A) && !current.isEmpty { words.append(current); current = [] }
            current.append(b)
        }
        if !current.isEmpty { words.append(current) }
        return words
    }

    /// Byte tokens, then `merges` trained merge results, then the specials (ids 256 + merges…).
    static func make(trainingText: String, merges count: Int) throws -> ByteLevelBPETokenizer {
        var tokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }
        var frequency: [[String]: Int] = [:]
        for w in words(trainingText) { frequency[w.map { ByteLevelAlphabet.spell([$0]) }, default: 0] += 1 }
        var merges: [(left: String, right: String)] = []
        for _ in 0..<count {
            var pairs: [[String]: Int] = [:]
            for (w, n) in frequency { for i in 0..<max(0, w.count - 1) { pairs[[w[i], w[i + 1]], default: 0] += n } }
            guard let best = pairs.max(by: { ($0.value, $1.key.joined(separator: " ")) < ($1.value, $0.key.joined(separator: " ")) }),
                  best.value > 1 else { break }
            let (l, r) = (best.key[0], best.key[1])
            merges.append((l, r))
            if !tokens.contains(l + r) { tokens.append(l + r) }
            var next: [[String]: Int] = [:]
            for (w, n) in frequency {
                var out: [String] = [], i = 0
                while i < w.count {
                    if i + 1 < w.count && w[i] == l && w[i + 1] == r { out.append(l + r); i += 2 } else { out.append(w[i]); i += 1 }
                }
                next[out, default: 0] += n
            }
            frequency = next
        }
        let firstSpecial = tokens.count
        tokens += specials
        var d = BPETokenizerDescription(source: "test-bpe", tokens: tokens, merges: merges, preTokenizer: .gpt2)
        d.addedTokens = specials.indices.map { (id: firstSpecial + $0, special: true) }
        d.bosID = firstSpecial + 1
        d.eosID = firstSpecial + 2
        d.paddingID = firstSpecial
        d.chatTemplate = chatTemplate
        return try ByteLevelBPETokenizer(d)
    }
}
