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
public protocol NextTokenLogitsModel: ParameterContainer, CausalLanguageModel {
    var vocabularySize: Int { get }
    /// The longest sequence one call takes.
    var contextLength: Int { get }
    /// The character vocabulary of a character-level model (`InputAdapterKind.characters`), nil otherwise.
    var vocabularyCharacters: String? { get }
    /// tokens: [B·T] laid out [B, T] → logits [B, T, vocabularySize].
    func nextTokenLogits(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> Variable
}

/// A next-token model that also gives its last hidden states, the output head's input (after the
/// final norm), as hidden-state distillation compares them.
public protocol HiddenStatesLanguageModel: NextTokenLogitsModel {
    /// The width of the hidden states.
    var hiddenStateWidth: Int { get }
    /// tokens: [B·T] laid out [B, T] → the hidden states [B, T, hiddenStateWidth] after the final
    /// norm and the logits [B, T, vocabularySize] computed from them, in one forward pass (the
    /// logits are `nextTokenLogits`' on the Float32 path).
    func nextTokenLogitsAndHiddenStates(_ tokens: [Int], batch: Int, length: Int, tape: Tape) -> (logits: Variable, hidden: Variable)
}
