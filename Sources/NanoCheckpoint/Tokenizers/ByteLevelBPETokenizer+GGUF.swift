import NanoModels

extension ByteLevelBPETokenizer {
    /// GGUF token types (`llama_token_type`): control tokens (`<|im_start|>`) are special added
    /// tokens, user-defined ones added tokens matched whole, as llama.cpp and transformers treat them.
    enum GGUFTokenType: Int {
        case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
    }

    /// The tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.model` = `gpt2`).
    public init(gguf file: GGUFFile) throws {
        try self.init(ggufMetadata: file.metadata, source: file.path)
    }

    /// The tokenizer described by GGUF metadata: `tokenizer.ggml.tokens`, `.merges`, `.token_type`,
    /// `.pre` (the pre-tokenizer), the bos/eos/unknown/padding ids, `.add_bos_token` and
    /// `tokenizer.chat_template`. `source` names the file in errors.
    public init(ggufMetadata m: [String: GGUFValue], source: String) throws {
        let model = try Self.ggufString(m, "tokenizer.ggml.model", source)
        guard model == "gpt2" else {
            throw BPETokenizerError.unsupported(file: source, field: "tokenizer.ggml.model", value: model)
        }
        let preName = try Self.ggufString(m, "tokenizer.ggml.pre", source)
        guard let pre = BPEPreTokenizer(ggufName: preName) else {
            throw BPETokenizerError.unsupported(file: source, field: "tokenizer.ggml.pre", value: preName)
        }
        let tokens = try Self.ggufStrings(m, "tokenizer.ggml.tokens", source)
        let mergeRules = try Self.ggufStrings(m, "tokenizer.ggml.merges", source)
        var merges: [(left: String, right: String)] = []
        merges.reserveCapacity(mergeRules.count)
        for (i, rule) in mergeRules.enumerated() {
            guard let pair = BPETokenizerDescription.splitMerge(rule) else {
                throw BPETokenizerError.malformedMerge(file: source, field: "tokenizer.ggml.merges", index: i, merge: rule)
            }
            merges.append(pair)
        }
        var d = BPETokenizerDescription(source: source, tokens: tokens, merges: merges, preTokenizer: pre)
        d.tokensField = "tokenizer.ggml.tokens"
        d.mergesField = "tokenizer.ggml.merges"

        if let types = m["tokenizer.ggml.token_type"] {
            guard let elements = types.elements else {
                throw BPETokenizerError.wrongType(file: source, field: "tokenizer.ggml.token_type", expected: "an array of integers")
            }
            guard elements.count == tokens.count else {
                throw BPETokenizerError.lengthMismatch(file: source, field: "tokenizer.ggml.token_type",
                                                       expected: tokens.count, found: elements.count)
            }
            for (id, value) in elements.enumerated() {
                guard let raw = value.integer else {
                    throw BPETokenizerError.wrongType(file: source, field: "tokenizer.ggml.token_type", expected: "an array of integers")
                }
                switch GGUFTokenType(rawValue: raw) {
                case .control: d.addedTokens.append((id, true))
                case .userDefined: d.addedTokens.append((id, false))
                default: break
                }
            }
        }
        d.bosID = try Self.ggufInt(m, "tokenizer.ggml.bos_token_id", source, count: tokens.count)
        d.eosID = try Self.ggufInt(m, "tokenizer.ggml.eos_token_id", source, count: tokens.count)
        d.unknownID = try Self.ggufInt(m, "tokenizer.ggml.unknown_token_id", source, count: tokens.count)
        d.paddingID = try Self.ggufInt(m, "tokenizer.ggml.padding_token_id", source, count: tokens.count)
        if let v = m["tokenizer.ggml.add_bos_token"] {
            guard case .bool(let b) = v else {
                throw BPETokenizerError.wrongType(file: source, field: "tokenizer.ggml.add_bos_token", expected: "a boolean")
            }
            d.addsBOS = b
        }
        if let v = m["tokenizer.chat_template"] {
            guard let s = v.string else {
                throw BPETokenizerError.wrongType(file: source, field: "tokenizer.chat_template", expected: "a string")
            }
            d.chatTemplate = s
        }
        // llama.cpp takes a word that is a token whole for Llama 3's vocabulary (`ignore_merges`).
        d.ignoreMerges = pre == .llama3
        try self.init(d)
    }

    private static func ggufString(_ m: [String: GGUFValue], _ key: String, _ file: String) throws -> String {
        guard let v = m[key] else { throw BPETokenizerError.missingField(file: file, field: key) }
        guard let s = v.string else { throw BPETokenizerError.wrongType(file: file, field: key, expected: "a string") }
        return s
    }

    private static func ggufStrings(_ m: [String: GGUFValue], _ key: String, _ file: String) throws -> [String] {
        guard let v = m[key] else { throw BPETokenizerError.missingField(file: file, field: key) }
        guard case .array(.string, let elements) = v else {
            throw BPETokenizerError.wrongType(file: file, field: key, expected: "an array of strings")
        }
        return elements.map { $0.string ?? "" }
    }

    /// An optional id; present, it must be an integer in `0..<count`.
    private static func ggufInt(_ m: [String: GGUFValue], _ key: String, _ file: String, count: Int) throws -> Int? {
        guard let v = m[key] else { return nil }
        guard let id = v.integer else { throw BPETokenizerError.wrongType(file: file, field: key, expected: "an integer") }
        guard (0..<count).contains(id) else {
            throw BPETokenizerError.idOutOfRange(file: file, field: key, id: id, vocabularySize: count)
        }
        return id
    }
}
