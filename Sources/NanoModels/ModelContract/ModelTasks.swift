import NanoTensor

/// A model that maps feature rows to class logits (``ModelTask/classLogits``).
public protocol ClassLogitsModel: ParameterContainer {
    /// Features per row.
    var featureCount: Int { get }
    var classCount: Int { get }
    /// x: [N, featureCount] → logits [N, classCount].
    func classLogits(_ x: Variable, tape: Tape) -> Variable
}

/// A model that maps token sequences to next-token logits (``ModelTask/nextTokenLogits``).
public protocol NextTokenLogitsModel: ParameterContainer {
    var vocabularySize: Int { get }
    /// The longest sequence one call takes.
    var contextLength: Int { get }
    /// The character vocabulary of a character-level model (`InputAdapterKind.characters`), nil otherwise.
    var vocabularyCharacters: String? { get }
    /// tokens: [B·T] laid out [B, T] → logits [B, T, vocabularySize].
    func nextTokenLogits(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable
}
