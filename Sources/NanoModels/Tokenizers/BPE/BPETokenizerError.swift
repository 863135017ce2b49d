/// A problem with a byte-level BPE tokenizer's description (GGUF metadata or `tokenizer.json`).
/// Every case names the file and the field (`tokenizer.ggml.merges`, `model.vocab`, …).
public enum BPETokenizerError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case missingField(file: String, field: String)
    /// The field holds the wrong kind of value (`expected` says which).
    case wrongType(file: String, field: String, expected: String)
    /// A tokenizer model or pre-tokenizer that nanoforge does not implement.
    case unsupported(file: String, field: String, value: String)
    /// Two parallel arrays differ in length (`tokenizer.ggml.token_type` against `tokenizer.ggml.tokens`).
    case lengthMismatch(file: String, field: String, expected: Int, found: Int)
    /// A merge rule that is not two tokens separated by one space.
    case malformedMerge(file: String, field: String, index: Int, merge: String)
    /// A merge rule naming a token, or producing one, that is not in the vocabulary.
    case unknownMergeToken(file: String, field: String, index: Int, token: String)
    /// A token id outside `0..<vocabularySize`.
    case idOutOfRange(file: String, field: String, id: Int, vocabularySize: Int)
    /// The same id given to two tokens, or ids that leave a gap.
    case invalidVocabulary(file: String, field: String, reason: String)
    /// A chat template that nanoforge does not recognise.
    case unsupportedChatTemplate(file: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read the tokenizer: \(r)"
        case .missingField(let f, let field): return "\(f): tokenizer field '\(field)' is missing"
        case .wrongType(let f, let field, let e): return "\(f): tokenizer field '\(field)' must be \(e)"
        case .unsupported(let f, let field, let v): return "\(f): unsupported \(field) '\(v)'"
        case .lengthMismatch(let f, let field, let e, let found):
            return "\(f): tokenizer field '\(field)' has \(found) entries, expected \(e) (one per token)"
        case .malformedMerge(let f, let field, let i, let m): return "\(f): \(field)[\(i)] '\(m)' is not two tokens separated by a space"
        case .unknownMergeToken(let f, let field, let i, let t): return "\(f): \(field)[\(i)] names '\(t)', which is not in the vocabulary"
        case .idOutOfRange(let f, let field, let id, let n): return "\(f): tokenizer field '\(field)': id \(id) is out of range 0..<\(n)"
        case .invalidVocabulary(let f, let field, let r): return "\(f): tokenizer field '\(field)': \(r)"
        case .unsupportedChatTemplate(let f, let r): return "\(f): unsupported chat template: \(r)"
        }
    }
}
