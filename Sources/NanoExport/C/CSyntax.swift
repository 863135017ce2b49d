/// C99 spelling of the values and comments the C export writes.
enum CSyntax {
    /// An exact `float` literal in C99 hexadecimal form (`0x1.010102p-8f`), so the compiler cannot
    /// round it differently from Swift. Finite values only.
    static func float(_ x: Float) -> String {
        precondition(x.isFinite, "CSyntax.float: \(x) is not finite")
        if x == 0 { return x.sign == .minus ? "-0.0f" : "0.0f" }
        let sign = x.sign == .minus ? "-" : ""
        let bits = x.bitPattern
        let biased = Int((bits >> 23) & 0xFF)
        let fraction = bits & 0x7F_FFFF
        // Normal: 1.f × 2^(e − 127); subnormal: 0.f × 2^−126. 23 fraction bits shifted to 24 = 6 hex digits.
        let lead = biased == 0 ? "0" : "1"
        let exponent = biased == 0 ? -126 : biased - 127
        let digits = String(fraction << 1, radix: 16)
        let padded = String(repeating: "0", count: 6 - digits.count) + digits
        return "\(sign)0x\(lead).\(padded)p\(exponent)f"
    }

    /// An `int32_t` literal; INT32_MIN is written as an expression (`2147483648` alone is not an int).
    static func int32(_ v: Int32) -> String {
        v == Int32.min ? "(-2147483647 - 1)" : String(v)
    }

    /// `values` as the body of an array initializer, `perLine` per line, each line indented.
    static func arrayBody(_ values: [String], perLine: Int = 16, indent: String = "    ") -> String {
        stride(from: 0, to: values.count, by: perLine).map { start in
            indent + values[start..<Swift.min(start + perLine, values.count)].joined(separator: ", ")
        }.joined(separator: ",\n")
    }

    /// True when `name` is a C identifier.
    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || isLetter(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0 == "_" || isLetter($0) || ("0"..."9").contains($0) }
    }

    private static func isLetter(_ c: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(c) || ("A"..."Z").contains(c)
    }

    /// Text that can sit inside a `/* … */` comment: `*/` and `/*` are broken with a backslash
    /// (`*\/`, `/\*`), and so are `??` (`?\?`, which C99 would read as the start of a trigraph);
    /// control characters other than tab become spaces. Lines are split on newlines.
    static func commentLines(_ text: String) -> [String] {
        text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }).map { line in
            var out = ""
            var last: Character?
            for c in line {
                var piece = String(c)
                if (c != "\t" && c.unicodeScalars.allSatisfy { $0.value < 0x20 || $0.value == 0x7F }) {
                    piece = " "
                } else if (c == "/" && last == "*") || (c == "*" && last == "/") || (c == "?" && last == "?") {
                    piece = "\\" + piece
                }
                out += piece
                last = piece.last
            }
            // A trailing space or tab is harmless but noisy in diffs.
            while out.last == " " || out.last == "\t" { out.removeLast() }
            return out
        }
    }
}
