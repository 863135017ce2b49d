extension ByteLevelBPETokenizer {
    /// The ids of the single-byte tokens, one per byte value the vocabulary covers (all 256 in
    /// GPT-2-style vocabularies): what keeps any text encodable after a vocabulary is trimmed.
    public var byteTokenIDs: [Int] { byteTokens.filter { $0 >= 0 }.map(Int.init) }

    /// The bytes token `id` stands for (empty out of range).
    public func bytes(ofToken id: Int) -> [UInt8] { tokenBytes.indices.contains(id) ? tokenBytes[id] : [] }

    /// Whether `id` is an added token (matched whole in text, never built by merges).
    public func isAddedToken(_ id: Int) -> Bool { definition.addedTokens.contains { $0.id == id } }

    /// BPE on `bytes` as one pre-tokenizer word, without the pre-tokenizer: the pieces the merges
    /// produce. A token is reachable by merges when `mergePieces(bytes(ofToken: id)) == [id]`.
    public func mergePieces(_ bytes: [UInt8]) -> [Int] { mergeWord(bytes).map(Int.init) }

    /// Every token that merging token `id`'s own bytes produces on the way (the results of the
    /// merges applied, `id` itself last when it is reachable), and the final pieces. When `id` is
    /// a piece of some word, merging that word builds `id` through exactly these intermediates:
    /// the merges inside a final piece's span never depend on the bytes around it.
    public func mergeDerivation(ofToken id: Int) -> (intermediates: [Int], pieces: [Int]) {
        var symbols = bytes(ofToken: id).compactMap { byteTokens[Int($0)] >= 0 ? byteTokens[Int($0)] : nil }
        var produced: [Int] = []
        // The plain scan of `mergeByScan`, recording each merge's result (tokens are short).
        while symbols.count > 1 {
            var best = -1, bestRank = Int32.max
            for i in 0..<(symbols.count - 1) {
                if let m = merge(symbols[i], symbols[i + 1]), m.rank < bestRank { best = i; bestRank = m.rank }
            }
            if best < 0 { break }
            let result = merge(symbols[best], symbols[best + 1])!.result
            produced.append(Int(result))
            symbols[best] = result
            symbols.remove(at: best + 1)
        }
        return (produced, symbols.map(Int.init))
    }

    /// A tokenizer holding only the tokens `kept` (ascending, distinct, in range), renumbered
    /// 0..<kept.count in that order. A merge rule survives when its two parts and its result are
    /// all kept (in its original rank order); added tokens, the BOS/EOS/unknown/padding ids, the
    /// pre-tokenizer and the chat template follow. A special id whose token is not kept is dropped
    /// (nil). Text whose original pieces and their merge intermediates are all kept tokenizes to
    /// the same pieces: each merge the original applies is still there, and still the best ranked.
    public func trimmed(keeping kept: [Int]) throws -> ByteLevelBPETokenizer {
        precondition(zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 } && kept.allSatisfy(tokens.indices.contains),
                     "trimmed(keeping:): ids must be ascending, distinct and in range")
        let d = definition
        var newID = [Int: Int]()
        for (new, old) in kept.enumerated() { newID[old] = new }
        let keptSpellings = Set(kept.map { d.tokens[$0] })
        var t = BPETokenizerDescription(source: d.source + " (trimmed to \(kept.count) tokens)", tokens: kept.map { d.tokens[$0] },
                                        merges: d.merges.filter {
                                            keptSpellings.contains($0.left) && keptSpellings.contains($0.right)
                                                && keptSpellings.contains($0.left + $0.right)
                                        },
                                        preTokenizer: d.preTokenizer)
        t.addedTokens = d.addedTokens.compactMap { a in newID[a.id].map { (id: $0, special: a.special) } }
        t.bosID = d.bosID.flatMap { newID[$0] }
        t.eosID = d.eosID.flatMap { newID[$0] }
        t.unknownID = d.unknownID.flatMap { newID[$0] }
        t.paddingID = d.paddingID.flatMap { newID[$0] }
        t.addsBOS = d.addsBOS && t.bosID != nil
        t.ignoreMerges = d.ignoreMerges
        t.chatTemplate = d.chatTemplate
        t.tokensField = d.tokensField
        t.mergesField = d.mergesField
        return try ByteLevelBPETokenizer(t)
    }
}
