extension ByteLevelBPETokenizer {
    /// The token ids of `text`. With `allowSpecial`, special tokens written in the text
    /// (`<|im_start|>`) become their single ids, as Hugging Face does for added special tokens;
    /// without, they are encoded as ordinary text. Non-special added tokens always match.
    /// `addBOS` puts `bosID` first (see `addsBOS` for what the model expects).
    public func encode(_ text: String, allowSpecial: Bool, addBOS: Bool = false) -> [Int] {
        var ids: [Int] = []
        if addBOS, let bosID { ids.append(bosID) }
        var text = text
        text.withUTF8 { utf8 in
            let classes = ScalarClasses(utf8: utf8)
            var cache: [[UInt8]: [Int32]] = [:]
            let encodeRange = { (scalars: Range<Int>) in
                guard !scalars.isEmpty else { return }
                preTokenizer.split(classes, scalars) { word in
                    appendWord(UnsafeBufferPointer(rebasing: utf8[word]), to: &ids, cache: &cache)
                }
            }
            guard !added.isEmpty else { encodeRange(0..<classes.count); return }
            // Added tokens cut the text first; each piece between them is pre-tokenized on its own.
            var start = 0, i = 0
            while i < classes.count {
                if let token = added.match(utf8, at: classes.byteOffsets[i], allowSpecial: allowSpecial) {
                    encodeRange(start..<i)
                    ids.append(token.id)
                    // A token is valid UTF-8, so its end is a scalar boundary.
                    let end = classes.byteOffsets[i] + token.bytes.count
                    while i < classes.count && classes.byteOffsets[i] < end { i += 1 }
                    start = i
                } else {
                    i += 1
                }
            }
            encodeRange(start..<classes.count)
        }
        return ids
    }

    /// The text of `ids`: their bytes concatenated, invalid UTF-8 replaced by U+FFFD (as Hugging
    /// Face's byte-level decoder). Special tokens are written out unless `skipSpecial`; ids out of
    /// range are skipped.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids where tokenBytes.indices.contains(id) && !(skipSpecial && specialTokenIDs.contains(id)) {
            bytes += tokenBytes[id]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the ids of one pre-tokenizer word.
    private func appendWord(_ word: UnsafeBufferPointer<UInt8>, to ids: inout [Int], cache: inout [[UInt8]: [Int32]]) {
        if word.count == 1 {
            let t = byteTokens[Int(word[0])]
            if t >= 0 { ids.append(Int(t)) }
            return
        }
        let key = Array(word)
        if let hit = cache[key] {
            for t in hit { ids.append(Int(t)) }
            return
        }
        let result = mergeWord(key)
        cache[key] = result
        for t in result { ids.append(Int(t)) }
    }
}
