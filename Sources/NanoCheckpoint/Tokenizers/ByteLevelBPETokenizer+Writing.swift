import Foundation
import NanoModels

extension ByteLevelBPETokenizer {
    /// The file names `write(toFolder:)` writes, which `init(tokenizerJSON:)` reads back.
    public static let tokenizerFileNames = ["tokenizer.json", "tokenizer_config.json"]

    /// Writes this tokenizer as Hugging Face's `tokenizer.json` (BPE model: every token in
    /// `model.vocab` by id, the merges by rank, the added tokens, the pre-tokenizer as
    /// `tokenizer.json` states it) and `tokenizer_config.json` (bos/eos/unk/pad tokens,
    /// `add_bos_token`, `chat_template`) into `folder`: how the tokenizer of a GGUF or Hugging
    /// Face model travels with its compressed copy. `init(tokenizerJSON:)` reads them back into
    /// the same ids.
    public func write(toFolder folder: String) throws {
        let (tokenizer, config) = tokenizerJSON()
        try AtomicFile.write(Data(tokenizer.serialized.utf8), to: (folder as NSString).appendingPathComponent("tokenizer.json"))
        try AtomicFile.write(Data(config.serialized.utf8), to: (folder as NSString).appendingPathComponent("tokenizer_config.json"))
    }

    /// The two files' contents (see `write(toFolder:)`).
    public func tokenizerJSON() -> (tokenizer: JSONValue, config: JSONValue) {
        let d = definition
        let vocab = JSONValue.object(d.tokens.enumerated().map { (key: $1, value: .number(Double($0))) })
        let merges = JSONValue.array(d.merges.map { .array([.string($0.left), .string($0.right)]) })
        let added = JSONValue.array(d.addedTokens.map { token in
            .object([("id", .number(Double(token.id))), ("content", .string(d.tokens[token.id])), ("single_word", .bool(false)),
                     ("lstrip", .bool(false)), ("rstrip", .bool(false)), ("normalized", .bool(false)), ("special", .bool(token.special))])
        })
        let model = JSONValue.object([
            ("type", .string("BPE")), ("dropout", .null), ("unk_token", .null), ("continuing_subword_prefix", .null),
            ("end_of_word_suffix", .null), ("fuse_unk", .bool(false)), ("byte_fallback", .bool(false)),
            ("ignore_merges", .bool(d.ignoreMerges)), ("vocab", vocab), ("merges", merges),
        ])
        let tokenizer = JSONValue.object([
            ("version", .string("1.0")), ("truncation", .null), ("padding", .null), ("added_tokens", added),
            ("normalizer", .null), ("pre_tokenizer", Self.preTokenizerJSON(d.preTokenizer)), ("post_processor", .null),
            ("decoder", .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(true)), ("trim_offsets", .bool(true)),
                                 ("use_regex", .bool(true))])),
            ("model", model),
        ])
        func token(_ id: Int?) -> JSONValue { id.map { .string(d.tokens[$0]) } ?? .null }
        var config: [(key: String, value: JSONValue)] = [
            ("tokenizer_class", .string("GPT2Tokenizer")), ("bos_token", token(d.bosID)), ("eos_token", token(d.eosID)),
            ("unk_token", token(d.unknownID)), ("pad_token", token(d.paddingID)), ("add_bos_token", .bool(d.addsBOS)),
        ]
        if let template = d.chatTemplate { config.append(("chat_template", .string(template))) }
        return (tokenizer, .object(config))
    }

    /// `tokenizer.json`'s pre-tokenizer for each kind, as `preTokenizer(_:_:)` recognises it.
    static func preTokenizerJSON(_ kind: BPEPreTokenizer) -> JSONValue {
        func byteLevel(regex: Bool) -> JSONValue {
            .object([("type", .string("ByteLevel")), ("add_prefix_space", .bool(false)), ("trim_offsets", .bool(true)),
                     ("use_regex", .bool(regex))])
        }
        func split(_ pattern: String) -> JSONValue {
            .object([("type", .string("Split")), ("pattern", .object([("Regex", .string(pattern))])),
                     ("behavior", .string("Isolated")), ("invert", .bool(false))])
        }
        func sequence(_ steps: [JSONValue]) -> JSONValue { .object([("type", .string("Sequence")), ("pretokenizers", .array(steps))]) }
        switch kind {
        case .gpt2: return byteLevel(regex: true)
        case .smollm: return sequence([.object([("type", .string("Digits")), ("individual_digits", .bool(true))]), byteLevel(regex: true)])
        case .llama3: return sequence([split(BPEPreTokenizer.llama3Pattern), byteLevel(regex: false)])
        case .qwen2: return sequence([split(BPEPreTokenizer.qwen2Pattern), byteLevel(regex: false)])
        }
    }
}
