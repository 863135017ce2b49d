import Foundation
import Hummingbird
import NanoCheckpoint

/// `/v1/embeddings`: `input` a string, an array of strings, token ids or arrays of token ids
/// (given as the encoder sees them, [CLS] and [SEP] included); `encoding_format` float or base64
/// (little-endian float32). Texts longer than the encoder's `maxLength` tokens are truncated, as
/// `nanoforge embed` truncates them; `usage` counts the tokens run, [CLS] and [SEP] included.
struct EmbeddingsEndpoint {
    let encoder: ServedEncoder

    func respond(_ fields: RequestFields, model: String) async throws -> Response {
        guard let input = fields["input"] else { throw APIError.missing("input") }
        let format = try fields.string("encoding_format") ?? "float"
        guard format == "float" || format == "base64" else { throw APIError.invalidValue("encoding_format", "must be 'float' or 'base64', got '\(format)'") }
        if let dimensions = try fields.int("dimensions"), dimensions != encoder.encoder.width {
            throw APIError.invalidValue("dimensions", "must be \(encoder.encoder.width) (this model's width), got \(dimensions)")
        }
        let runtime = encoder.encoder
        let vocabulary = runtime.configuration.vocabularySize
        let rows: [[Int]] = try TextOrTokens.list(input, param: "input").map { item in
            switch item {
            case .text(let text): return runtime.tokenizer.encode(text, maxLength: runtime.maxLength)
            case .tokens(let ids):
                if let bad = ids.first(where: { $0 >= vocabulary }) { throw APIError.invalidValue("input", "holds token id \(bad), outside the vocabulary of \(vocabulary)") }
                guard ids.count <= runtime.maxLength else {
                    throw APIError.contextExceeded(prompt: ids.count, completion: 0, context: runtime.maxLength, param: "input")
                }
                return ids
            }
        }
        try encoder.admission.acquire()
        let vectors = await encoder.batcher.embed(rows)
        encoder.admission.release()
        let data: [JSONValue] = vectors.enumerated().map { i, v in
            .object([("object", .string("embedding")), ("embedding", format == "base64" ? .string(Self.base64(v)) : .array(v.map { .float($0) })),
                     ("index", .int(i))])
        }
        let tokens = rows.reduce(0) { $0 + $1.count }
        return HTTPReplies.json(.object([("object", .string("list")), ("data", .array(data)), ("model", .string(model)),
                                         ("usage", .object([("prompt_tokens", .int(tokens)), ("total_tokens", .int(tokens))]))]))
    }

    /// Little-endian float32 bytes in base64, as OpenAI's `encoding_format: base64`.
    static func base64(_ v: [Float]) -> String {
        var bytes = [UInt8]()
        bytes.reserveCapacity(v.count * 4)
        for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
        return Data(bytes).base64EncodedString()
    }
}
