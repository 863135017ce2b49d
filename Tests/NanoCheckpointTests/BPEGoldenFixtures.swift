import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import TestSupport

/// Fixtures/tokenizers, written by scripts/fixtures/make_bpe_golden.py with Hugging Face `tokenizers`.
enum BPEGoldenFixtures {
    static let smolLM2Path = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    static var hasSmolLM2: Bool { FileManager.default.fileExists(atPath: smolLM2Path) }
    static let missingSmolLM2Comment = Comment(rawValue: "skipped: needs \(smolLM2Path) (make setup fetches it)")

    static func path(_ name: String) -> String { RepositoryPaths.fixture("tokenizers/" + name) }

    static func json(_ name: String) throws -> JSONValue {
        try JSONParser.parse([UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name)))))
    }

    static func lines() throws -> [String] {
        try json("lines.json").array!.map { $0.string! }
    }

    /// One row of ids per line of the text file.
    static func ids(_ name: String) throws -> [[Int]] {
        let text = try String(contentsOfFile: path(name), encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map { row in
            row.split(separator: " ").map { Int($0)! }
        }
    }

    /// SHA-256 of the ids as little-endian Int32, as the golden script writes it.
    static func digest(_ ids: [Int]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { withUnsafeBytes(of: Int32(id).littleEndian) { bytes += $0 } }
        return SHA256.hex(bytes)
    }

    static func intArray(_ v: JSONValue?) -> [Int] { v?.array?.map { $0.int! } ?? [] }

    /// The SmolLM2 tokenizer read from the GGUF file that set-up provides (parsed once).
    static let smolLM2: Result<ByteLevelBPETokenizer, Error> = Result {
        try ByteLevelBPETokenizer(gguf: try GGUFFile.read(path: smolLM2Path))
    }

    /// GGUF metadata equivalent to a tiny `tokenizer.json` fixture, for the GGUF path of each pre-tokenizer.
    static func ggufMetadata(tokenizerJSON name: String, pre: String) throws -> [String: GGUFValue] {
        let root = try json(name)
        let vocab = root["model"]!["vocab"]!.members!
        var tokens = [String](repeating: "", count: vocab.count)
        for (token, id) in vocab { tokens[id.int!] = token }
        var types = [GGUFValue](repeating: .int32(1), count: tokens.count)
        for added in root["added_tokens"]!.array! where added["special"]?.bool == true { types[added["id"]!.int!] = .int32(3) }
        let merges = root["model"]!["merges"]!.array!.map { m -> String in
            m.string ?? m.array!.map { $0.string! }.joined(separator: " ")
        }
        return [
            "tokenizer.ggml.model": .string("gpt2"),
            "tokenizer.ggml.pre": .string(pre),
            "tokenizer.ggml.tokens": .strings(tokens),
            "tokenizer.ggml.merges": .strings(merges),
            "tokenizer.ggml.token_type": .array(.int32, types),
            "tokenizer.ggml.bos_token_id": .uint32(0),
            "tokenizer.ggml.eos_token_id": .uint32(0),
            "tokenizer.ggml.add_bos_token": .bool(false),
        ]
    }
}
