import Foundation
import NanoModels

/// Readers for the evaluation tasks' generic text formats. Every problem is a `DataError` naming
/// the file and, for a bad record, its 1-based line.
///
/// Common rules: the file is UTF-8; blank lines (only whitespace) are skipped but still counted
/// for line numbers; a trailing `\r` is dropped; fields are not trimmed other than that. A
/// `limit` keeps the first N records in file order (never a sample), so runs are comparable
/// and deterministic; `nil` keeps all. A file with no records is `DataError.empty`.
public enum EvaluationData {
    /// A `query<TAB>target` pair.
    public struct Pair: Equatable, Sendable {
        public var query: String
        public var target: String
        public init(query: String, target: String) { self.query = query; self.target = target }
    }

    /// A `label<TAB>text` example.
    public struct LabeledText: Equatable, Sendable {
        public var label: String
        public var text: String
        public init(label: String, text: String) { self.label = label; self.text = text }
    }

    /// An `a<TAB>b<TAB>score` pair with a graded similarity score.
    public struct ScoredPair: Equatable, Sendable {
        public var a: String
        public var b: String
        public var score: Double
        public init(a: String, b: String, score: Double) { self.a = a; self.b = b; self.score = score }
    }

    /// Plain text, one sentence per line.
    public static func sentences(_ path: String, limit: Int? = nil) throws -> [String] {
        try records(path, limit: limit) { line, _ in line }
    }

    /// One model input a line: the line itself, or the last field of a TSV record (so a
    /// `label<TAB>text` file serves as calibration or fidelity data too).
    public static func inputs(_ path: String, limit: Int? = nil) throws -> [String] {
        try records(path, limit: limit) { line, _ in
            line.split(separator: "\t", omittingEmptySubsequences: false).last.map(String.init) ?? line
        }
    }

    /// TSV `query<TAB>target`, exactly two non-empty fields a line.
    public static func pairs(_ path: String, limit: Int? = nil) throws -> [Pair] {
        try records(path, limit: limit) { line, number in
            let f = try fields(line, count: 2, file: path, line: number, layout: "query<TAB>target")
            return Pair(query: f[0], target: f[1])
        }
    }

    /// TSV `label<TAB>text`, exactly two non-empty fields a line.
    public static func labeledTexts(_ path: String, limit: Int? = nil) throws -> [LabeledText] {
        try records(path, limit: limit) { line, number in
            let f = try fields(line, count: 2, file: path, line: number, layout: "label<TAB>text")
            return LabeledText(label: f[0], text: f[1])
        }
    }

    /// TSV `a<TAB>b<TAB>score`, the score a finite decimal number.
    public static func scoredPairs(_ path: String, limit: Int? = nil) throws -> [ScoredPair] {
        try records(path, limit: limit) { line, number in
            let f = try fields(line, count: 3, file: path, line: number, layout: "a<TAB>b<TAB>score")
            guard let score = Double(f[2].trimmingCharacters(in: .whitespaces)), score.isFinite else {
                throw DataError.malformed(file: path, line: number, reason: "score '\(f[2])' is not a finite number")
            }
            return ScoredPair(a: f[0], b: f[1], score: score)
        }
    }

    /// Numeric features of a line: decimal numbers separated by commas and/or whitespace (the
    /// text field of `label<TAB>text` for classifier models).
    public static func features(_ text: String, file: String, line: Int) throws -> [Float] {
        let tokens = text.split(whereSeparator: { $0 == "," || $0.isWhitespace })
        guard !tokens.isEmpty else { throw DataError.malformed(file: file, line: line, reason: "no numeric features") }
        return try tokens.map { token in
            guard let v = Float(token), v.isFinite else {
                throw DataError.malformed(file: file, line: line, reason: "'\(token)' is not a finite number")
            }
            return v
        }
    }

    /// The feature rows of a file of feature lines (or `label<TAB>features` lines): what the C
    /// exporter calibrates its activation ranges on.
    public static func featureRows(_ path: String) throws -> [[Float]] {
        try inputs(path).enumerated().map { i, line in try features(line, file: path, line: i + 1) }
    }

    // MARK: Shared reading

    /// The non-blank lines of a file with their 1-based numbers, mapped by `parse`, first `limit` only.
    static func records<T>(_ path: String, limit: Int?, _ parse: (String, Int) throws -> T) throws -> [T] {
        if let limit, limit < 1 { throw DataError.unreadable(file: path, reason: "limit must be at least 1, got \(limit)") }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DataError.unreadable(file: path, reason: isDirectory.boolValue ? "is a folder" : "no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(file: path, reason: "cannot read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError.unreadable(file: path, reason: "not UTF-8 text")
        }
        var out: [T] = []
        var number = 0
        // "\r\n" is a single Character in Swift, so it is a separator of its own.
        for raw in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            number += 1
            var line = String(raw)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.allSatisfy(\.isWhitespace) { continue }
            out.append(try parse(line, number))
            if let limit, out.count >= limit { break }
        }
        if out.isEmpty { throw DataError.empty(file: path) }
        return out
    }

    static func fields(_ line: String, count: Int, file: String, line number: Int, layout: String) throws -> [String] {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count == count else {
            throw DataError.malformed(file: file, line: number, reason: "expected \(count) tab-separated fields (\(layout)), found \(f.count)")
        }
        if let empty = f.firstIndex(where: { $0.allSatisfy(\.isWhitespace) }) {
            throw DataError.malformed(file: file, line: number, reason: "field \(empty + 1) of \(layout) is empty")
        }
        return f
    }
}
