import Hummingbird
import NanoCheckpoint
import NanoModels
import NanoRuntime

/// `POST /tokenize` in llama.cpp's and vLLM's shape, for decoders: the text in `prompt` (vLLM)
/// or `content` (llama.cpp); `add_special` / `add_special_tokens` (default false) add the
/// model's BOS when it has one; `parse_special` (default true) reads special-token texts as
/// their ids; `with_pieces` returns `[{id, piece}]`, the piece a string, or its bytes as a list
/// of integers when they are not valid UTF-8 (llama.cpp's convention). Replies
/// `{"tokens", "count", "max_model_len"}`. A distillation client compares these with its own
/// tokens before asking for log-probabilities (docs/scale-out.md).
struct TokenizeEndpoint: Sendable {
    let decoder: ServedDecoder

    func respond(_ fields: RequestFields) throws -> Response {
        guard let text = try fields.string("prompt") ?? fields.string("content") else { throw APIError.missing("prompt") }
        let addSpecial = try fields.bool("add_special") ?? fields.bool("add_special_tokens") ?? false
        let parseSpecial = try fields.bool("parse_special") ?? true
        let withPieces = try fields.bool("with_pieces") ?? false
        let ids: [Int]
        if let bpe = decoder.codec as? BPECodec {
            ids = bpe.tokenizer.encode(text, allowSpecial: parseSpecial, addBOS: addSpecial && bpe.tokenizer.addsBOS)
        } else {
            ids = decoder.codec.encode(text)
        }
        let tokens: [JSONValue] = ids.map { id in
            guard withPieces else { return .int(id) }
            let bytes = decoder.codec.tokenBytes(id)
            let piece: JSONValue = String(validating: bytes, as: UTF8.self).map { .string($0) } ?? .array(bytes.map { .int(Int($0)) })
            return .object([("id", .int(id)), ("piece", piece)])
        }
        return HTTPReplies.json(.object([("tokens", .array(tokens)), ("count", .int(ids.count)), ("max_model_len", .int(decoder.contextLength))]))
    }
}
