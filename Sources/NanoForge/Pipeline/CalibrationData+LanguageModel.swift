import NanoModels
import NanoTensor

/// Calibration of token-level language models (the Llama family): the calibration lines are one
/// text (joined by line ends, as a data file reads), tokenized once by the model's tokenizer and
/// cut into windows of `calibrationWindow` tokens (BOS first when the tokenizer adds one); each
/// window is one forward pass whose Linear inputs GPTQ, Wanda and activation observers read.
extension CalibrationData {
    /// Tokens a calibration window, capped at the model's context.
    static let calibrationWindow = 512

    /// The windows for a token-level language model; nil for other models (character-level
    /// decoders are not calibrated this way: their recipes train instead).
    static func languageModelSequences(_ inputs: [String], model: EvaluatedModel) -> [[Int]]? {
        guard let lm = model.languageModel, !lm.characterLevel else { return nil }
        let window = min(calibrationWindow, lm.model.contextLength)
        let bos = lm.tokenizer.beginningOfSequence
        let tokens = lm.tokenizer.encode(inputs.joined(separator: "\n"))
        let step = bos == nil ? window : window - 1
        return stride(from: 0, to: tokens.count, by: step).compactMap { start in
            let body = Array(tokens[start..<min(start + step, tokens.count)])
            let sequence = (bos.map { [$0] } ?? []) + body
            return sequence.count >= 2 ? sequence : nil
        }
    }

    /// Runs one window through the model with an observer on every Linear layer; every row is real.
    static func forEachLinearInput(_ model: EvaluatedModel, tokens: [Int], _ visit: (String, Tensor, [Float]) -> Void) {
        guard let decoder = model.model?.container as? NextTokenLogitsModel else {
            preconditionFailure("token sequences were built for a language model")
        }
        let ones = [Float](repeating: 1, count: tokens.count)
        LinearInputs.observe(model.linearLayers, during: {
            _ = decoder.nextTokenLogits(tokens, batch: 1, length: tokens.count, tape: Tape(recording: false))
        }) { name, input in visit(name, input, ones) }
    }
}
