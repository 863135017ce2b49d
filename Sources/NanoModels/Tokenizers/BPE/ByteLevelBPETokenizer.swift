/// A byte-level BPE tokenizer (GPT-2, SmolLM, Llama 3, Qwen2): text → pre-tokenizer words → UTF-8
/// bytes → merges by rank. Ids equal Hugging Face `tokenizers`' for the same vocabulary, merges,
/// pre-tokenizer and added tokens. Build it with `BPETokenizerLoader` (NanoCheckpoint) from a GGUF
/// file or a `tokenizer.json`, or from a `BPETokenizerDescription`.
public struct ByteLevelBPETokenizer: Sendable {
    /// The file it was read from.
    public let source: String
    /// Token spellings (byte-level alphabet; added tokens as their text), indexed by id.
    public let tokens: [String]
    public let preTokenizer: BPEPreTokenizer
    public let bosID: Int?
    public let eosID: Int?
    public let unknownID: Int?
    public let paddingID: Int?
    /// Whether the model expects `bosID` first; `encode(_:allowSpecial:addBOS:)` adds it on request.
    public let addsBOS: Bool
    /// The Jinja chat template the file carries, verbatim.
    public let chatTemplateSource: String?
    /// Ids of special added tokens (matched in text only when allowed).
    public let specialTokenIDs: Set<Int>
    /// What it was built from (tokens, merges, added tokens, pre-tokenizer, ids, template), so it
    /// can be written out again beside a compressed model (`tokenizer.json`).
    public let definition: BPETokenizerDescription

    /// The bytes each token stands for (decoding concatenates them).
    let tokenBytes: [[UInt8]]
    /// The token of each single byte, or -1.
    let byteTokens: [Int32]
    /// (left << 32 | right) → rank and merged token.
    let merges: [UInt64: Merge]
    /// Words taken whole when `ignoreMerges` (empty otherwise).
    let wholeWords: [[UInt8]: Int32]
    let added: AddedTokenMatcher

    struct Merge: Sendable { var rank: Int32; var result: Int32 }

    public var vocabularySize: Int { tokens.count }

    /// The stored spelling of token `id` (GPT-2's byte alphabet: `Ġthe` for " the"); nil out of range.
    public func tokenString(_ id: Int) -> String? { tokens.indices.contains(id) ? tokens[id] : nil }

    /// Validates `d` and builds the lookup tables.
    public init(_ d: BPETokenizerDescription) throws {
        let file = d.source, n = d.tokens.count
        guard n > 0 else { throw BPETokenizerError.invalidVocabulary(file: file, field: d.tokensField, reason: "no tokens") }
        for (field, id) in [("bos_token_id", d.bosID), ("eos_token_id", d.eosID), ("unknown_token_id", d.unknownID),
                            ("padding_token_id", d.paddingID)] {
            if let id, !(0..<n).contains(id) {
                throw BPETokenizerError.idOutOfRange(file: file, field: field, id: id, vocabularySize: n)
            }
        }
        for a in d.addedTokens where !(0..<n).contains(a.id) {
            throw BPETokenizerError.idOutOfRange(file: file, field: "added_tokens", id: a.id, vocabularySize: n)
        }
        let addedIDs = Set(d.addedTokens.map(\.id))

        // Bytes of each token. A spelling outside the byte alphabet (an added token, or a mislabelled
        // one) stands for its own UTF-8 text, as transformers' GGUF reader respells it.
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(n)
        var idBySpelling: [String: Int32] = [:]
        idBySpelling.reserveCapacity(n)
        var byteTokens = [Int32](repeating: -1, count: 256)
        for (id, spelling) in d.tokens.enumerated() {
            let b = addedIDs.contains(id) ? Array(spelling.utf8) : (ByteLevelAlphabet.bytes(ofSpelling: spelling) ?? Array(spelling.utf8))
            bytes.append(b)
            idBySpelling[spelling] = Int32(id)   // a repeated spelling: the last id wins, as in llama.cpp and transformers
            if b.count == 1 && !addedIDs.contains(id) && byteTokens[Int(b[0])] < 0 { byteTokens[Int(b[0])] = Int32(id) }
        }

        var merges: [UInt64: Merge] = [:]
        merges.reserveCapacity(d.merges.count)
        for (rank, rule) in d.merges.enumerated() {
            func id(_ s: String) throws -> Int32 {
                guard let id = idBySpelling[s] else {
                    throw BPETokenizerError.unknownMergeToken(file: file, field: d.mergesField, index: rank, token: s)
                }
                return id
            }
            let left = try id(rule.left), right = try id(rule.right), result = try id(rule.left + rule.right)
            let key = UInt64(UInt32(left)) << 32 | UInt64(UInt32(right))
            if merges[key] == nil { merges[key] = Merge(rank: Int32(rank), result: result) }   // the first rule counts
        }

        var whole: [[UInt8]: Int32] = [:]
        if d.ignoreMerges {
            for (id, b) in bytes.enumerated() where !addedIDs.contains(id) { whole[b] = Int32(id) }
        }

        source = file
        definition = d
        tokens = d.tokens
        preTokenizer = d.preTokenizer
        bosID = d.bosID; eosID = d.eosID; unknownID = d.unknownID; paddingID = d.paddingID
        addsBOS = d.addsBOS
        chatTemplateSource = d.chatTemplate
        specialTokenIDs = Set(d.addedTokens.filter(\.special).map(\.id))
        tokenBytes = bytes
        self.byteTokens = byteTokens
        self.merges = merges
        wholeWords = whole
        added = AddedTokenMatcher(d.addedTokens.map { .init(bytes: bytes[$0.id], id: $0.id, special: $0.special) })
    }
}
