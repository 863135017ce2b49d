import Foundation
import NanoCheckpoint
import NanoModels

/// Text ↔ token ids for a decoder, as `generate` and `serve` use them.
public protocol TokenCodec: Sendable {
    func encode(_ text: String) -> [Int]
    /// The text of `ids`, special tokens left out (what a user reads).
    func decode(_ ids: [Int]) -> String
    /// One token as text, special tokens included (`<|im_end|>`): the name a log-probability
    /// table gives it. A piece of a multi-byte character comes out as U+FFFD.
    func tokenText(_ id: Int) -> String
    /// One token's raw bytes (what OpenAI's `bytes` field carries).
    func tokenBytes(_ id: Int) -> [UInt8]
    /// The tokenizer's end-of-sequence id, when it names one.
    var endOfSequence: Int? { get }
    /// `text` as the user's turn in the model's chat template, ready for the assistant's reply.
    func chatPrompt(_ text: String) throws -> String
    /// A conversation in the model's chat template, ready for the assistant's reply.
    func chatPrompt(_ messages: [ChatMessage]) throws -> String
}

extension TokenCodec {
    public func chatPrompt(_ text: String) throws -> String { try chatPrompt([ChatMessage(role: "user", content: text)]) }
}

/// The model's byte-level BPE tokenizer: special tokens in the prompt text (`<|im_start|>`)
/// become their ids, BOS is added when the model asks for it, special tokens are left out of the
/// decoded text.
public struct BPECodec: TokenCodec {
    public let tokenizer: ByteLevelBPETokenizer
    public init(tokenizer: ByteLevelBPETokenizer) { self.tokenizer = tokenizer }
    public var endOfSequence: Int? { tokenizer.eosID }
    public func encode(_ text: String) -> [Int] { tokenizer.encode(text, allowSpecial: true, addBOS: tokenizer.addsBOS) }
    public func decode(_ ids: [Int]) -> String { tokenizer.decode(ids, skipSpecial: true) }
    public func tokenText(_ id: Int) -> String { tokenizer.decode([id], skipSpecial: false) }
    public func tokenBytes(_ id: Int) -> [UInt8] {
        let bytes = tokenizer.bytes(ofToken: id)
        return bytes.isEmpty ? Array(tokenText(id).utf8) : bytes
    }
    public func chatPrompt(_ messages: [ChatMessage]) throws -> String {
        try tokenizer.applyChatTemplate(messages, addGenerationPrompt: true)
    }
}

/// Finds the tokenizer stored with a decoder.
public enum GenerationTokenizer {
    /// The tokenizer stored with `model`: a GGUF file's `tokenizer.ggml.*` metadata, or the
    /// `tokenizer.json` in (or beside) a Hugging Face folder; nil when there is none. A malformed
    /// tokenizer throws `BPETokenizerError` (it names the file and field).
    public static func load(model: String) throws -> (any TokenCodec)? {
        if try ModelLoader.isGGUF(model) {
            return BPECodec(tokenizer: try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: model)))
        }
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory)
        let folder = isDirectory.boolValue ? model : (model as NSString).deletingLastPathComponent
        let json = (folder as NSString).appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: json) else { return nil }
        return BPECodec(tokenizer: try ByteLevelBPETokenizer(tokenizerJSON: json))
    }
}
