import Foundation

/// BERT's WordPiece tokenizer over a `vocab.txt` (one token per line; the line number is the id).
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String]
    private let ids: [String: Int]
    public let basic: BasicTokenizer
    public let maxCharactersPerWord = 100
    public let classifyId: Int, separatorId: Int, unknownId: Int, paddingId: Int

    public enum LoadError: Error, CustomStringConvertible, Equatable {
        case unreadable(file: String)
        case missingSpecialToken(file: String, token: String)

        public var description: String {
            switch self {
            case .unreadable(let file): return "\(file): cannot read the vocabulary"
            case .missingSpecialToken(let file, let token): return "\(file): vocabulary has no \(token) token"
            }
        }
    }

    public init(vocabulary: [String], basic: BasicTokenizer = BasicTokenizer(), source: String = "vocabulary") throws {
        self.vocabulary = vocabulary
        var map: [String: Int] = [:]
        map.reserveCapacity(vocabulary.count)
        for (i, token) in vocabulary.enumerated() where map[token] == nil { map[token] = i }
        ids = map
        self.basic = basic
        func special(_ t: String) throws -> Int {
            guard let id = map[t] else { throw LoadError.missingSpecialToken(file: source, token: t) }
            return id
        }
        classifyId = try special("[CLS]")
        separatorId = try special("[SEP]")
        unknownId = try special("[UNK]")
        paddingId = try special("[PAD]")
    }

    /// Reads `vocab.txt`.
    public init(vocabularyFile path: String, lowercase: Bool = true) throws {
        guard let data = FileManager.default.contents(atPath: path), String(data: data, encoding: .utf8) != nil else {
            throw LoadError.unreadable(file: path)
        }
        // One pass over the bytes (valid UTF-8, checked above): lines split at \n, a trailing \r
        // dropped, no final empty line. About 10× faster than components(separatedBy:) on
        // MiniLM's 30,522 tokens, which counts in the packed runtime's load time.
        var lines: [String] = []
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            for i in 0...bytes.count where i == bytes.count || bytes[i] == UInt8(ascii: "\n") {
                if i == bytes.count && start == i { break }
                var end = i
                if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                lines.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
                start = i + 1
            }
        }
        try self.init(vocabulary: lines, basic: BasicTokenizer(lowercase: lowercase), source: path)
    }

    public func id(of token: String) -> Int? { ids[token] }

    /// Word pieces of `text` (without special tokens).
    public func tokenize(_ text: String) -> [String] {
        basic.tokenize(text).flatMap(wordPieces)
    }

    /// Greedy longest-match-first segmentation of one word; [UNK] when no segmentation exists.
    func wordPieces(_ word: String) -> [String] {
        let chars = Array(word.unicodeScalars)
        if chars.count > maxCharactersPerWord { return ["[UNK]"] }
        var pieces: [String] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: String?
            while start < end {
                var candidate = String(String.UnicodeScalarView(chars[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if ids[candidate] != nil { found = candidate; break }
                end -= 1
            }
            guard let piece = found else { return ["[UNK]"] }
            pieces.append(piece)
            start = end
        }
        return pieces
    }

    /// `[CLS] pieces [SEP]` ids, truncated to `maxLength` in total.
    public func encode(_ text: String, maxLength: Int = 256) -> [Int] {
        let pieces = tokenize(text).prefix(max(0, maxLength - 2))
        return [classifyId] + pieces.map { ids[$0] ?? unknownId } + [separatorId]
    }
}
