/// The scanners behind `BPEPreTokenizer`. Each step tries the regex's alternatives in order at the
/// current scalar and takes the first that matches, with the length the regex engine settles on.
extension BPEPreTokenizer {
    private static let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20

    /// Length of a contraction (`'s 't 're 've 'm 'll 'd`) at `i`, or 0. Llama 3 and Qwen2 match
    /// it case-insensitively (`(?i:…)`), GPT-2 exactly.
    private static func contraction(_ s: [UInt32], _ i: Int, _ end: Int, ignoreCase: Bool) -> Int {
        guard s[i] == apostrophe, i + 1 < end else { return 0 }
        func lower(_ v: UInt32) -> UInt32 { ignoreCase && (0x41...0x5A).contains(v) ? v + 0x20 : v }
        let a = lower(s[i + 1])
        switch a {
        case 0x73, 0x74, 0x6D, 0x64: return 2                       // s t m d
        case 0x72, 0x76:                                           // r v → re ve
            return i + 2 < end && lower(s[i + 2]) == 0x65 ? 3 : 0
        case 0x6C:                                                 // l → ll
            return i + 2 < end && lower(s[i + 2]) == 0x6C ? 3 : 0
        default: return 0
        }
    }

    /// End of the run of scalars of kind `kind` starting at `i`.
    private static func run(_ k: [ScalarClasses.Kind], from i: Int, _ end: Int, _ kind: ScalarClasses.Kind) -> Int {
        var j = i
        while j < end && k[j] == kind { j += 1 }
        return j
    }

    /// End of the whitespace run (`\s`, newlines included) starting at `i`.
    private static func whitespaceRun(_ k: [ScalarClasses.Kind], from i: Int, _ end: Int) -> Int {
        var j = i
        while j < end && (k[j] == .space || k[j] == .newline) { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` on the whitespace run `i..<r`: all of it at the end of the text, else all but
    /// its last scalar (which goes with the next word), else the single scalar.
    private static func trailingWhitespaceEnd(_ i: Int, _ r: Int, _ end: Int) -> Int {
        if r == end { return r }
        return r - i >= 2 ? r - 1 : r
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func scanGPT2(_ c: ScalarClasses, _ range: Range<Int>, _ emit: (Range<Int>) -> Void) {
        let k = c.kinds, s = c.scalars, end = range.upperBound
        var i = range.lowerBound
        while i < end {
            var j: Int
            let n = contraction(s, i, end, ignoreCase: false)
            if n > 0 {
                j = i + n
            } else {
                // ` ?X+`: an optional leading space (U+0020 only) joins a run of letters, digits or "other".
                var start = i
                if s[i] == space && i + 1 < end && k[i + 1] != .space && k[i + 1] != .newline { start = i + 1 }
                switch k[start] {
                case .letter, .number, .other:
                    j = run(k, from: start, end, k[start])
                case .space, .newline:
                    j = trailingWhitespaceEnd(i, whitespaceRun(k, from: i, end), end)
                }
            }
            emit(i..<j)
            i = j
        }
    }

    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    static func scanLlama3(_ c: ScalarClasses, _ range: Range<Int>, maxDigits: Int, _ emit: (Range<Int>) -> Void) {
        let k = c.kinds, s = c.scalars, end = range.upperBound
        var i = range.lowerBound
        while i < end {
            var j: Int
            let kind = k[i]
            let n = contraction(s, i, end, ignoreCase: true)
            if n > 0 {
                j = i + n
            } else if kind == .letter {
                j = run(k, from: i, end, .letter)
            } else if kind != .newline && kind != .number && i + 1 < end && k[i + 1] == .letter {
                // One scalar that is not \r, \n, a letter or a digit (a space, a tab, punctuation)
                // leads a run of letters.
                j = run(k, from: i + 1, end, .letter)
            } else if kind == .number {
                j = min(run(k, from: i, end, .number), i + maxDigits)
            } else if kind == .other || (s[i] == space && i + 1 < end && k[i + 1] == .other) {
                j = run(k, from: kind == .other ? i : i + 1, end, .other)
                j = run(k, from: j, end, .newline)
            } else {
                // Whitespace: up to the last \r or \n of the run (`\s*[\r\n]+`), else `\s+(?!\S)|\s+`.
                let r = whitespaceRun(k, from: i, end)
                var lastNewline = -1
                for m in stride(from: r - 1, through: i, by: -1) where k[m] == .newline { lastNewline = m; break }
                j = lastNewline >= 0 ? lastNewline + 1 : trailingWhitespaceEnd(i, r, end)
            }
            emit(i..<j)
            i = j
        }
    }
}
