import Testing
import NanoCheckpoint
import NanoModels

/// Malformed tokenizer descriptions are refused with a typed error naming the file and the field.
@Suite struct BPETokenizerErrorTests {
    static let byteTokens = (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) }

    /// A minimal valid GGUF tokenizer: the 256 bytes, "ab" and "<|end|>" (control), one merge.
    static func metadata() -> [String: GGUFValue] {
        let tokens = byteTokens + ["ab", "<|end|>"]
        return [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string("smollm"),
            "tokenizer.ggml.tokens": .strings(tokens),
            "tokenizer.ggml.merges": .strings(["a b"]),
            "tokenizer.ggml.token_type": .array(.int32, [GGUFValue](repeating: .int32(1), count: 257) + [.int32(3)]),
            "tokenizer.ggml.eos_token_id": .uint32(257),
        ]
    }

    static func error(_ change: (inout [String: GGUFValue]) -> Void) -> BPETokenizerError? {
        var m = metadata()
        change(&m)
        do {
            _ = try ByteLevelBPETokenizer(ggufMetadata: m, source: "model.gguf")
            return nil
        } catch let e as BPETokenizerError {
            return e
        } catch {
            return nil
        }
    }

    @Test func validMetadataLoads() throws {
        let t = try ByteLevelBPETokenizer(ggufMetadata: Self.metadata(), source: "model.gguf")
        #expect(t.encode("ab<|end|>", allowSpecial: true) == [256, 257])
        #expect(t.eosID == 257 && t.bosID == nil)
    }

    @Test func unknownModelAndPreTokenizerAreRefusedInOneLine() {
        let pre = Self.error { $0["tokenizer.ggml.pre"] = .string("tekken") }
        #expect(pre == .unsupported(file: "model.gguf", field: "tokenizer.ggml.pre", value: "tekken"))
        #expect(pre?.description == "model.gguf: unsupported tokenizer.ggml.pre 'tekken'")
        #expect(Self.error { $0["tokenizer.ggml.model"] = .string("llama") }
                == .unsupported(file: "model.gguf", field: "tokenizer.ggml.model", value: "llama"))
        #expect(Self.error { $0["tokenizer.ggml.pre"] = nil } == .missingField(file: "model.gguf", field: "tokenizer.ggml.pre"))
    }

    @Test func lengthMismatch() {
        #expect(Self.error { $0["tokenizer.ggml.token_type"] = .array(.int32, [.int32(1)]) }
                == .lengthMismatch(file: "model.gguf", field: "tokenizer.ggml.token_type", expected: 258, found: 1))
    }

    @Test func mergeProblems() {
        #expect(Self.error { $0["tokenizer.ggml.merges"] = .strings(["a b", "a zz"]) }
                == .unknownMergeToken(file: "model.gguf", field: "tokenizer.ggml.merges", index: 1, token: "zz"))
        // "b a" names known tokens, but "ba" is not in the vocabulary.
        #expect(Self.error { $0["tokenizer.ggml.merges"] = .strings(["b a"]) }
                == .unknownMergeToken(file: "model.gguf", field: "tokenizer.ggml.merges", index: 0, token: "ba"))
        #expect(Self.error { $0["tokenizer.ggml.merges"] = .strings(["ab"]) }
                == .malformedMerge(file: "model.gguf", field: "tokenizer.ggml.merges", index: 0, merge: "ab"))
    }

    @Test func idsOutOfRange() {
        #expect(Self.error { $0["tokenizer.ggml.bos_token_id"] = .uint32(999) }
                == .idOutOfRange(file: "model.gguf", field: "tokenizer.ggml.bos_token_id", id: 999, vocabularySize: 258))
        #expect(Self.error { $0["tokenizer.ggml.eos_token_id"] = .int32(-1) }
                == .idOutOfRange(file: "model.gguf", field: "tokenizer.ggml.eos_token_id", id: -1, vocabularySize: 258))
    }

    @Test func wrongTypes() {
        #expect(Self.error { $0["tokenizer.ggml.tokens"] = .array(.int32, [.int32(1)]) }
                == .wrongType(file: "model.gguf", field: "tokenizer.ggml.tokens", expected: "an array of strings"))
        #expect(Self.error { $0["tokenizer.ggml.bos_token_id"] = .string("1") }
                == .wrongType(file: "model.gguf", field: "tokenizer.ggml.bos_token_id", expected: "an integer"))
        #expect(Self.error { $0["tokenizer.chat_template"] = .int32(0) }
                == .wrongType(file: "model.gguf", field: "tokenizer.chat_template", expected: "a string"))
    }

    // MARK: tokenizer.json

    static func json(vocab: String = #"{"a": 0, "b": 1, "ab": 2}"#, merges: String = #"["a b"]"#,
                     pre: String = #"{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}"#,
                     model: String = "BPE", added: String = "[]") -> [UInt8] {
        Array(#"{"added_tokens": \#(added), "normalizer": null, "pre_tokenizer": \#(pre), "model": {"type": "\#(model)", "vocab": \#(vocab), "merges": \#(merges)}}"#.utf8)
    }

    static func jsonError(_ bytes: [UInt8]) -> BPETokenizerError? {
        do {
            _ = try ByteLevelBPETokenizer(tokenizerJSON: bytes, source: "tokenizer.json")
            return nil
        } catch let e as BPETokenizerError { return e } catch { return nil }
    }

    @Test func tokenizerJSONProblems() throws {
        let t = try ByteLevelBPETokenizer(tokenizerJSON: Self.json(), source: "tokenizer.json")
        #expect(t.encode("ab", allowSpecial: true) == [2])
        #expect(Self.jsonError(Self.json(model: "WordPiece")) == .unsupported(file: "tokenizer.json", field: "model.type", value: "WordPiece"))
        #expect(Self.jsonError(Self.json(pre: #"{"type": "Whitespace"}"#))
                == .unsupported(file: "tokenizer.json", field: "pre_tokenizer", value: #"{"type":"Whitespace"}"#))
        #expect(Self.jsonError(Self.json(vocab: #"{"a": 0, "b": 7, "ab": 2}"#))
                == .idOutOfRange(file: "tokenizer.json", field: "model.vocab", id: 7, vocabularySize: 3))
        #expect(Self.jsonError(Self.json(vocab: #"{"a": 0, "b": 0, "ab": 2}"#))
                == .invalidVocabulary(file: "tokenizer.json", field: "model.vocab", reason: "id 0 is given to two tokens"))
        #expect(Self.jsonError(Self.json(merges: #"["a c"]"#))
                == .unknownMergeToken(file: "tokenizer.json", field: "model.merges", index: 0, token: "c"))
        #expect(Self.jsonError(Self.json(merges: #"[["a"]]"#))
                == .malformedMerge(file: "tokenizer.json", field: "model.merges", index: 0, merge: #"["a"]"#))
        #expect(Self.jsonError(Self.json(added: #"[{"id": 5, "content": "<s>", "special": true}]"#))
                == .invalidVocabulary(file: "tokenizer.json", field: "added_tokens", reason: "no token has id 3"))
        if case .unreadable(let file, _)? = Self.jsonError(Array("{\"model\": ".utf8)) {
            #expect(file == "tokenizer.json")
        } else {
            Issue.record("truncated JSON must be unreadable")
        }
    }
}
