/// GPT-2's byte-level alphabet (`bytes_to_unicode` in openai/gpt-2 `encoder.py`, and Hugging Face's
/// `ByteLevel`): every byte gets a printable Unicode character, so a vocabulary of byte sequences can
/// be stored as text. Printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves; the
/// other 68 bytes take U+0100, U+0101, … in increasing byte order (space 0x20 becomes `Ġ` U+0120).
public enum ByteLevelAlphabet {
    /// The character that spells each byte.
    public static let characters: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\u{0}", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if selfSpelling(UInt8(byte)) {
                table[byte] = Unicode.Scalar(UInt32(byte))!
            } else {
                table[byte] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// The byte a character of the alphabet spells; nil for characters outside it.
    public static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = scalar.value
        if v < 256 { return selfSpelling(UInt8(v)) ? UInt8(v) : nil }
        guard v < 256 + 68 else { return nil }
        return lowBytes[Int(v - 256)]
    }

    /// Bytes → their spelling in the alphabet.
    public static func spell<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in bytes { out.append(characters[Int(b)]) }
        return String(out)
    }

    /// A spelling → its bytes; nil when a character is outside the alphabet.
    public static func bytes(ofSpelling text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            guard let b = byte(for: scalar) else { return nil }
            out.append(b)
        }
        return out
    }

    private static func selfSpelling(_ b: UInt8) -> Bool {
        (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
    }

    /// The bytes spelt U+0100 + n, in order.
    private static let lowBytes: [UInt8] = (0...255).map(UInt8.init).filter { !selfSpelling($0) }
}
