import Foundation
import NanoModels

/// How an endpoint's tokens map to the student's, learnt by the tokenizer check: the endpoint's
/// `/tokenize` of the training text must give the student's tokens (compared by their bytes when
/// the server gives pieces, as llama.cpp and nanoforge serve do; else by id), which pairs every
/// token of the text with its endpoint id. A trimmed student keeps its own ids; prompts are sent
/// in the endpoint's ids.
///
/// An alternative in a reply is resolved by its bytes (llama.cpp), else by its id (through the
/// pairs, special tokens included, or as is when the endpoint's ids are the student's), else by
/// its text when exactly one
/// student token has that text; one that matches nothing (a token a trimmed student lacks, or a
/// text several byte pieces share, "�") keeps its mass in the remainder, as a local teacher's
/// tokens that the student lacks do.
struct EndpointTeacherVocabulary {
    let tokenizer: ByteLevelBPETokenizer
    /// Each student token's bytes (an added token's: its text).
    let studentBytes: [[UInt8]]
    private let byBytes: [[UInt8]: Int]
    private let byText: [String: Int]
    /// The endpoint's id of each student id seen in the probes (−1: not seen).
    private(set) var studentToTeacher: [Int]
    private(set) var teacherToStudent: [Int: Int] = [:]
    /// Whether every probe token had the same id on both sides.
    private(set) var sameIds = true

    init(_ tokenizer: ByteLevelBPETokenizer) {
        self.tokenizer = tokenizer
        studentBytes = tokenizer.tokens.indices.map { id in
            let b = tokenizer.bytes(ofToken: id)
            return b.isEmpty || tokenizer.specialTokenIDs.contains(id) ? Array(tokenizer.tokens[id].utf8) : b
        }
        var bytes: [[UInt8]: Int] = [:], texts: [String: Int?] = [:]
        for (id, b) in studentBytes.enumerated() {
            if bytes[b] == nil { bytes[b] = id }
            let text = String(decoding: b, as: UTF8.self)
            texts[text] = texts[text] == nil ? id : .some(nil)   // a text two tokens share resolves to neither
        }
        byBytes = bytes
        byText = texts.compactMapValues { $0 }
        studentToTeacher = [Int](repeating: -1, count: tokenizer.tokens.count)
    }

    /// The student id of a reply's alternative, nil when it matches none.
    func studentId(_ e: EndpointTeacherReply.Entry) -> Int? {
        if let b = e.bytes, !b.isEmpty, let s = byBytes[b] { return s }
        if let id = e.id {
            if let s = teacherToStudent[id] { return s }
            if sameIds { return id < studentBytes.count ? id : nil }
        }
        return byText[e.text]
    }

    /// The endpoint's ids of student tokens `ids`; the first one the probes never paired is
    /// returned as `missing`.
    func teacherIds(_ ids: [Int]) -> (ids: [Int], missing: Int?) {
        var out = [Int]()
        out.reserveCapacity(ids.count)
        for s in ids {
            let t = studentToTeacher[s]
            if t < 0 {
                if sameIds { out.append(s); continue }
                return (out, s)
            }
            out.append(t)
        }
        return (out, nil)
    }

    /// One token of the endpoint's `/tokenize` reply: its id and, when given, its bytes.
    struct Token { let id: Int; let piece: [UInt8]? }

    /// Compares the endpoint's tokens of `probe` with the student's and records the pairs.
    /// Returns where they first differ, described, or nil. `lenient`: a probe whose endpoint
    /// tokens include one the student's vocabulary lacks (a trimmed student) is skipped.
    mutating func align(_ probe: String, name: String, endpoint: [Token], lenient: Bool) -> String? {
        let student = tokenizer.encode(probe, allowSpecial: false)
        if lenient, endpoint.contains(where: { t in t.piece.map { byBytes[$0] == nil } ?? (t.id >= studentBytes.count) }) { return nil }
        for i in 0..<max(student.count, endpoint.count) {
            let s = i < student.count ? student[i] : nil, t = i < endpoint.count ? endpoint[i] : nil
            let same: Bool
            if let s, let t { same = t.piece.map { $0 == studentBytes[s] } ?? (t.id == s) } else { same = false }
            if !same {
                let theirs = t.map { "id \($0.id)" + ($0.piece.map { " " + Self.show($0) } ?? "") } ?? "nothing (\(endpoint.count) tokens)"
                let ours = s.map { "id \($0) " + Self.show(studentBytes[$0]) } ?? "nothing (\(student.count) tokens)"
                let how = endpoint.first?.piece == nil ? " (the server gives ids without pieces, so its ids must be the student's)" : ""
                return "tokenizes differently from the student: at token \(i) of \(name) the endpoint has \(theirs) where the student has \(ours)\(how)"
            }
        }
        for (s, t) in zip(student, endpoint) {
            studentToTeacher[s] = t.id
            teacherToStudent[t.id] = s
            if s != t.id { sameIds = false }
        }
        return nil
    }

    /// Pairs a special token (which a text never holds) with the endpoint's id for its text.
    mutating func pairSpecial(student s: Int, endpoint t: Int) {
        if teacherToStudent[t] == nil { teacherToStudent[t] = s }
        if studentToTeacher[s] < 0 { studentToTeacher[s] = t }
    }

    static func show(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self).debugDescription
    }
}
