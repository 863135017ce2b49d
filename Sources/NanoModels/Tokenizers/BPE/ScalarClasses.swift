/// The classes that the byte-level pre-tokenizers' regular expressions distinguish, computed once
/// per text: `\p{L}` (letters: Lu Ll Lt Lm Lo), `\p{N}` (Nd Nl No), `\s` (Unicode White_Space, as
/// Oniguruma's `\s`, which Hugging Face `tokenizers` uses), with `\r` and `\n` apart, and the rest.
/// Combining marks (Mn, Mc, Me) are "other", as in the regexes: `é` written `e` + U+0301 splits.
struct ScalarClasses {
    enum Kind: UInt8 { case letter, number, space, newline, other }

    /// One entry per Unicode scalar of the text.
    var kinds: [Kind] = []
    var scalars: [UInt32] = []
    /// UTF-8 byte offset of each scalar, and the total byte count at the end (`count + 1` entries).
    var byteOffsets: [Int] = []

    init(utf8 bytes: UnsafeBufferPointer<UInt8>) {
        kinds.reserveCapacity(bytes.count)
        scalars.reserveCapacity(bytes.count)
        byteOffsets.reserveCapacity(bytes.count + 1)
        var i = 0
        while i < bytes.count {
            byteOffsets.append(i)
            let b0 = bytes[i]
            if b0 < 0x80 {
                scalars.append(UInt32(b0))
                kinds.append(Self.asciiKinds[Int(b0)])
                i += 1
                continue
            }
            // The bytes come from a Swift String: valid UTF-8.
            var value: UInt32, length: Int
            if b0 < 0xE0 { value = UInt32(b0 & 0x1F); length = 2 }
            else if b0 < 0xF0 { value = UInt32(b0 & 0x0F); length = 3 }
            else { value = UInt32(b0 & 0x07); length = 4 }
            for k in 1..<length { value = value << 6 | UInt32(bytes[i + k] & 0x3F) }
            scalars.append(value)
            kinds.append(Self.kind(of: value))
            i += length
        }
        byteOffsets.append(bytes.count)
    }

    var count: Int { kinds.count }

    static func kind(of value: UInt32) -> Kind {
        if value < 0x80 { return asciiKinds[Int(value)] }
        guard let scalar = Unicode.Scalar(value), !isUnicode17Addition(value) else { return .other }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return scalar.properties.isWhitespace ? .space : .other
        }
    }

    /// Letters and numbers that Unicode 17 added. Swift's tables know them; the Oniguruma inside
    /// Hugging Face `tokenizers` 0.23 (Unicode 16) does not, so its `\p{L}` and `\p{N}` leave them out.
    /// Found by classifying every code point both ways (4,657 differ, all here; `\s` agrees).
    private static let unicode17Additions: [ClosedRange<UInt32>] = [
        0x88F...0x88F, 0xC5C...0xC5C, 0xCDC...0xCDC, 0xA7CE...0xA7CF, 0xA7D2...0xA7D2, 0xA7D4...0xA7D4,
        0xA7F1...0xA7F1, 0x10940...0x10959, 0x10EC5...0x10EC7, 0x11DB0...0x11DDB, 0x11DE0...0x11DE9,
        0x16EA0...0x16EB8, 0x16EBB...0x16ED3, 0x16FF2...0x16FF6, 0x187F8...0x187FF, 0x18D09...0x18D1E,
        0x18D80...0x18DF2, 0x1E6C0...0x1E6DE, 0x1E6E0...0x1E6E2, 0x1E6E4...0x1E6E5, 0x1E6E7...0x1E6ED,
        0x1E6F0...0x1E6F4, 0x1E6FE...0x1E6FF, 0x2B73A...0x2B73F, 0x2CEA2...0x2CEAD, 0x323B0...0x33479,
    ]

    private static func isUnicode17Addition(_ value: UInt32) -> Bool {
        guard value >= 0x88F else { return false }
        var lo = 0, hi = unicode17Additions.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if unicode17Additions[mid].upperBound < value { lo = mid + 1 } else { hi = mid }
        }
        return lo < unicode17Additions.count && unicode17Additions[lo].contains(value)
    }

    private static let asciiKinds: [Kind] = (0..<128).map { (v: Int) -> Kind in
        switch v {
        case 0x0A, 0x0D: return .newline
        case 0x09, 0x0B, 0x0C, 0x20: return .space
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }
}
