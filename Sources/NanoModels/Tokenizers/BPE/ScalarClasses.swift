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
        guard let scalar = Unicode.Scalar(value) else { return .other }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return scalar.properties.isWhitespace ? .space : .other
        }
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
