/// How a byte-level BPE tokenizer cuts text into words before merging: the regular expression of
/// the model's `tokenizer.json` (and of llama.cpp's `llama-vocab.cpp` for the `tokenizer.ggml.pre`
/// name), implemented as a hand-written scanner over Unicode scalars that takes the same
/// alternatives in the same order, with the same backtracking outcomes, as the regex engine.
public enum BPEPreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2's `ByteLevel` regex:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// SmolLM / StarCoder: every `\p{N}` isolated (`Digits(individual_digits: true)`), then GPT-2's
    /// regex on the text between digits.
    case smollm
    /// Llama 3 (`llama-bpe`): `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
    case llama3
    /// Qwen2: Llama 3's regex with `\p{N}` (one digit) in place of `\p{N}{1,3}`.
    case qwen2

    /// The pre-tokenizer a GGUF file names in `tokenizer.ggml.pre`, or nil for names nanoforge
    /// does not implement. Aliases follow llama.cpp's `llama-vocab.cpp` (same regex, same case).
    public init?(ggufName: String) {
        switch ggufName {
        case "gpt2", "gpt-2", "mpt", "olmo", "jais": self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell": self = .smollm
        case "llama-bpe", "llama3", "llama-v3": self = .llama3
        case "qwen2", "deepseek-r1-qwen": self = .qwen2
        default: return nil
        }
    }

    /// The regex of Hugging Face's `Split` pre-tokenizer for Llama 3 (in `tokenizer.json`).
    public static let llama3Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    /// The regex of Hugging Face's `Split` pre-tokenizer for Qwen2.
    public static let qwen2Pattern =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The words of `text` as UTF-8 byte ranges, in order, covering the text.
    public func split(_ text: String) -> [Range<Int>] {
        var utf8 = text
        return utf8.withUTF8 { bytes in
            let classes = ScalarClasses(utf8: bytes)
            var words: [Range<Int>] = []
            split(classes, 0..<classes.count) { words.append($0) }
            return words
        }
    }

    /// Calls `emit` with the UTF-8 byte range of each word of the scalars `range` of `classes`.
    /// The range is scanned as a whole text: lookaheads stop at its end.
    func split(_ classes: ScalarClasses, _ range: Range<Int>, emit: (Range<Int>) -> Void) {
        let offsets = classes.byteOffsets
        func emitScalars(_ r: Range<Int>) { emit(offsets[r.lowerBound]..<offsets[r.upperBound]) }
        switch self {
        case .gpt2:
            Self.scanGPT2(classes, range, emitScalars)
        case .smollm:
            var start = range.lowerBound
            for i in range where classes.kinds[i] == .number {
                if start < i { Self.scanGPT2(classes, start..<i, emitScalars) }
                emitScalars(i..<i + 1)
                start = i + 1
            }
            if start < range.upperBound { Self.scanGPT2(classes, start..<range.upperBound, emitScalars) }
        case .llama3:
            Self.scanLlama3(classes, range, maxDigits: 3, emitScalars)
        case .qwen2:
            Self.scanLlama3(classes, range, maxDigits: 1, emitScalars)
        }
    }
}
