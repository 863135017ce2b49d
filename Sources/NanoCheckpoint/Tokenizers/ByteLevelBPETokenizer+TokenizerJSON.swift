import Foundation
import NanoModels

extension ByteLevelBPETokenizer {
    /// Reads a Hugging Face `tokenizer.json` holding a byte-level BPE model, and the
    /// `tokenizer_config.json` beside it when there is one (bos/eos tokens, `add_bos_token`,
    /// `chat_template`).
    public init(tokenizerJSON path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BPETokenizerError.unreadable(file: path, reason: "no such file")
        }
        let configPath = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("tokenizer_config.json").path
        let config = FileManager.default.contents(atPath: configPath)
        try self.init(tokenizerJSON: [UInt8](data), source: path, config: config.map { [UInt8]($0) }, configSource: configPath)
    }

    /// Parses `tokenizer.json` bytes (and optionally `tokenizer_config.json` bytes); the sources
    /// name the files in errors. The model must be `BPE` with a byte-level pre-tokenizer that
    /// `BPEPreTokenizer` implements, and no normalizer.
    public init(tokenizerJSON bytes: [UInt8], source: String, config: [UInt8]? = nil, configSource: String = "tokenizer_config.json") throws {
        let root = try Self.parseJSON(bytes, source)
        guard let model = root["model"], model.members != nil else { throw BPETokenizerError.missingField(file: source, field: "model") }
        let type = model["type"]?.string ?? ""
        guard type == "BPE" else { throw BPETokenizerError.unsupported(file: source, field: "model.type", value: type) }
        if let dropout = model["dropout"], dropout != .null {
            throw BPETokenizerError.unsupported(file: source, field: "model.dropout", value: dropout.serialized)
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = model[key], v != .null, v != .string("") {
                throw BPETokenizerError.unsupported(file: source, field: "model.\(key)", value: v.serialized)
            }
        }
        if model["byte_fallback"]?.bool == true {
            throw BPETokenizerError.unsupported(file: source, field: "model.byte_fallback", value: "true")
        }
        if let normalizer = root["normalizer"], normalizer != .null {
            throw BPETokenizerError.unsupported(file: source, field: "normalizer", value: normalizer["type"]?.string ?? normalizer.serialized)
        }
        let pre = try Self.preTokenizer(root["pre_tokenizer"] ?? .null, source)

        // model.vocab: token → id, ids a permutation of 0..<count, then added tokens (possibly beyond).
        guard let vocab = model["vocab"]?.members else {
            throw BPETokenizerError.wrongType(file: source, field: "model.vocab", expected: "an object of token ids")
        }
        var added: [(id: Int, content: String, special: Bool)] = []
        for (i, entry) in (root["added_tokens"]?.array ?? []).enumerated() {
            guard let id = entry["id"]?.int, let content = entry["content"]?.string else {
                throw BPETokenizerError.wrongType(file: source, field: "added_tokens[\(i)]", expected: "an object with an integer id and a string content")
            }
            added.append((id, content, entry["special"]?.bool ?? false))
        }
        let count = max(vocab.count, (added.map(\.id).max() ?? -1) + 1)
        var tokens = [String?](repeating: nil, count: count)
        for (token, value) in vocab {
            guard let id = value.int else {
                throw BPETokenizerError.wrongType(file: source, field: "model.vocab", expected: "an object of integer ids")
            }
            guard (0..<vocab.count).contains(id) else {
                throw BPETokenizerError.idOutOfRange(file: source, field: "model.vocab", id: id, vocabularySize: vocab.count)
            }
            guard tokens[id] == nil else {
                throw BPETokenizerError.invalidVocabulary(file: source, field: "model.vocab", reason: "id \(id) is given to two tokens")
            }
            tokens[id] = token
        }
        for a in added {
            guard a.id >= 0 else {
                throw BPETokenizerError.idOutOfRange(file: source, field: "added_tokens", id: a.id, vocabularySize: count)
            }
            tokens[a.id] = a.content
        }
        if let gap = tokens.firstIndex(where: { $0 == nil }) {
            throw BPETokenizerError.invalidVocabulary(file: source, field: "added_tokens", reason: "no token has id \(gap)")
        }

        var merges: [(left: String, right: String)] = []
        guard let rules = model["merges"]?.array else {
            throw BPETokenizerError.wrongType(file: source, field: "model.merges", expected: "an array")
        }
        merges.reserveCapacity(rules.count)
        for (i, rule) in rules.enumerated() {
            // Older files write "left right", newer ones ["left", "right"].
            if let s = rule.string, let pair = BPETokenizerDescription.splitMerge(s) {
                merges.append(pair)
            } else if let a = rule.array, a.count == 2, let l = a[0].string, let r = a[1].string, !l.isEmpty, !r.isEmpty {
                merges.append((l, r))
            } else {
                throw BPETokenizerError.malformedMerge(file: source, field: "model.merges", index: i, merge: rule.serialized)
            }
        }

        var d = BPETokenizerDescription(source: source, tokens: tokens.map { $0! }, merges: merges, preTokenizer: pre)
        d.tokensField = "model.vocab"
        d.mergesField = "model.merges"
        d.addedTokens = added.map { ($0.id, $0.special) }
        d.ignoreMerges = model["ignore_merges"]?.bool ?? false
        if let config {
            let c = try Self.parseJSON(config, configSource)
            let ids = Dictionary(tokens.enumerated().map { ($1!, $0) }, uniquingKeysWith: { _, last in last })
            func specialID(_ key: String) throws -> Int? {
                guard let v = c[key], v != .null else { return nil }
                guard let text = v.string ?? v["content"]?.string else {
                    throw BPETokenizerError.wrongType(file: configSource, field: key, expected: "a token string")
                }
                guard let id = ids[text] else {
                    throw BPETokenizerError.invalidVocabulary(file: configSource, field: key, reason: "'\(text)' is not a token")
                }
                return id
            }
            d.bosID = try specialID("bos_token")
            d.eosID = try specialID("eos_token")
            d.unknownID = try specialID("unk_token")
            d.paddingID = try specialID("pad_token")
            d.addsBOS = c["add_bos_token"]?.bool ?? false
            d.chatTemplate = c["chat_template"]?.string
        }
        try self.init(d)
    }

    private static func parseJSON(_ bytes: [UInt8], _ source: String) throws -> JSONValue {
        do { return try JSONParser.parse(bytes) } catch let e as JSONParser.Error {
            throw BPETokenizerError.unreadable(file: source, reason: "invalid JSON: \(e.description)")
        }
    }

    /// The `BPEPreTokenizer` that a `tokenizer.json` pre-tokenizer definition amounts to.
    static func preTokenizer(_ p: JSONValue, _ source: String) throws -> BPEPreTokenizer {
        func byteLevel(_ v: JSONValue, regex: Bool) -> Bool {
            v["type"]?.string == "ByteLevel" && v["add_prefix_space"]?.bool != true && (v["use_regex"]?.bool ?? true) == regex
        }
        if byteLevel(p, regex: true) { return .gpt2 }
        if p["type"]?.string == "Sequence", let steps = p["pretokenizers"]?.array, steps.count == 2 {
            let first = steps[0]
            if first["type"]?.string == "Digits", first["individual_digits"]?.bool == true, byteLevel(steps[1], regex: true) {
                return .smollm
            }
            if first["type"]?.string == "Split", first["behavior"]?.string == "Isolated", first["invert"]?.bool != true,
               byteLevel(steps[1], regex: false), let pattern = first["pattern"]?["Regex"]?.string {
                if pattern == BPEPreTokenizer.llama3Pattern { return .llama3 }
                if pattern == BPEPreTokenizer.qwen2Pattern { return .qwen2 }
            }
        }
        throw BPETokenizerError.unsupported(file: source, field: "pre_tokenizer", value: p.serialized)
    }
}
