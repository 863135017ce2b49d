/// Everything a byte-level BPE tokenizer is built from, as a GGUF file or a `tokenizer.json` states
/// it. The adapters in `NanoCheckpoint` fill it in; `ByteLevelBPETokenizer.init` validates it.
public struct BPETokenizerDescription: Sendable {
    /// The file it was read from, named in errors.
    public var source: String
    /// Token spellings in GPT-2's byte-level alphabet, indexed by id (added tokens as their text).
    public var tokens: [String]
    /// Merge rules, best (rank 0) first, as pairs of token spellings.
    public var merges: [(left: String, right: String)]
    /// Ids of added tokens matched whole in text: special ones (`<|im_start|>`) only when the
    /// caller allows it, the others always.
    public var addedTokens: [(id: Int, special: Bool)] = []
    public var preTokenizer: BPEPreTokenizer
    public var bosID: Int?
    public var eosID: Int?
    public var unknownID: Int?
    public var paddingID: Int?
    /// Whether the model expects the BOS token first (`tokenizer.ggml.add_bos_token`).
    public var addsBOS = false
    /// A word that is itself a token is taken whole, before merging (`ignore_merges`; Llama 3).
    public var ignoreMerges = false
    /// The Jinja chat template, verbatim.
    public var chatTemplate: String?
    /// The field names that errors cite.
    public var tokensField = "tokens"
    public var mergesField = "merges"

    public init(source: String, tokens: [String], merges: [(left: String, right: String)], preTokenizer: BPEPreTokenizer) {
        self.source = source
        self.tokens = tokens
        self.merges = merges
        self.preTokenizer = preTokenizer
    }

    /// Splits a merge rule `"left right"`; nil unless it is exactly two non-empty parts.
    public static func splitMerge(_ rule: String) -> (left: String, right: String)? {
        let parts = rule.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (String(parts[0]), String(parts[1]))
    }
}
