import Foundation

/// BERT's basic tokenizer: text cleaning, CJK splitting, lower-casing with accent stripping, and
/// punctuation splitting — the steps Hugging Face's `BasicTokenizer` takes before WordPiece.
public struct BasicTokenizer: Sendable {
    public var lowercase: Bool
    /// nil follows `lowercase`, as in Hugging Face.
    public var stripAccents: Bool?

    public init(lowercase: Bool = true, stripAccents: Bool? = nil) {
        self.lowercase = lowercase
        self.stripAccents = stripAccents
    }

    /// Splits `text` into words and punctuation marks.
    public func tokenize(_ text: String) -> [String] {
        let cleaned = clean(text)
        var words: [String] = []
        for word in cleaned.split(separator: " ", omittingEmptySubsequences: true) {
            var w = String(word)
            if lowercase { w = w.lowercased() }
            if stripAccents ?? lowercase { w = Self.removeAccents(w) }
            words += Self.splitPunctuation(w)
        }
        return words
    }

    /// Drops NUL, U+FFFD and control characters, maps whitespace to spaces, and puts spaces around
    /// CJK ideographs so each becomes its own word.
    func clean(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            if v == 0 || v == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) { out.append(" ") }
            else if Self.isCJK(v) { out.append(" "); out.append(scalar); out.append(" ") }
            else { out.append(scalar) }
        }
        return String(out)
    }

    // ASCII answers come from the code point alone: looking up Unicode properties dominated the
    // tokenizer's profile on English text.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s == " " || s == "\t" || s == "\n" || s == "\r" }
        return s.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        if s.value < 0x80 { return s.value < 0x20 || s.value == 0x7F }
        switch s.properties.generalCategory {
        case .control, .format: return true
        default: return false
        }
    }

    /// ASCII symbols count as punctuation too (BERT treats "$" and "^" as punctuation).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        if v < 0x80 { return false }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideographs blocks (not Hangul or kana, which are space-separated already).
    static func isCJK(_ v: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(v) || (0x3400...0x4DBF).contains(v) || (0x20000...0x2A6DF).contains(v)
            || (0x2A700...0x2B73F).contains(v) || (0x2B740...0x2B81F).contains(v) || (0x2B820...0x2CEAF).contains(v)
            || (0xF900...0xFAFF).contains(v) || (0x2F800...0x2FA1F).contains(v)
    }

    /// NFD, then drop combining marks (category Mn).
    static func removeAccents(_ word: String) -> String {
        if word.utf8.allSatisfy({ $0 < 0x80 }) { return word }   // nothing to decompose
        var out = String.UnicodeScalarView()
        for s in word.decomposedStringWithCanonicalMapping.unicodeScalars where s.properties.generalCategory != .nonspacingMark {
            out.append(s)
        }
        return String(out)
    }

    static func splitPunctuation(_ word: String) -> [String] {
        var pieces: [String] = []
        var current = String.UnicodeScalarView()
        for s in word.unicodeScalars {
            if isPunctuation(s) {
                if !current.isEmpty { pieces.append(String(current)); current = .init() }
                pieces.append(String(s))
            } else {
                current.append(s)
            }
        }
        if !current.isEmpty { pieces.append(String(current)) }
        return pieces
    }
}
