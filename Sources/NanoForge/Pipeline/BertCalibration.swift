import NanoModels
import NanoTensor

/// Linear inputs of a BERT encoder on token batches, with one mask flag per token row.
public enum BertCalibration {
    /// Calls `visit(name, input, rowMask)` for each Linear layer the forward pass uses, with input
    /// [tokens, in] and one flag per token (1 = real token, 0 = padding). Returns the last hidden
    /// states [B, T, width]. The pooler is not part of the forward pass and is not visited.
    @discardableResult
    public static func forEachLinearInput(_ model: BertEncoder, ids: [Int], attentionMask: Tensor,
                                          _ visit: (String, Tensor, [Float]) -> Void) -> Tensor {
        let rowMask = attentionMask.scalars
        var hidden = Tensor.zeros([0])
        LinearInputs.observe(model.layers(of: Linear.self), during: {
            hidden = model(ids, attentionMask: attentionMask, tape: Tape(recording: false)).value
        }) { name, input in visit(name, input, rowMask) }
        return hidden
    }

    /// ‖X_j‖₂ per input feature of every Linear layer, over all real tokens of `batches`.
    public static func inputNorms(_ model: BertEncoder, batches: [(ids: [Int], attentionMask: Tensor)]) -> [String: [Float]] {
        var accumulators: [String: ActivationNormAccumulator] = [:]
        for batch in batches {
            forEachLinearInput(model, ids: batch.ids, attentionMask: batch.attentionMask) { name, input, rowMask in
                accumulators[name, default: ActivationNormAccumulator(features: input.shape[1])].add(input, rowMask: rowMask)
            }
        }
        return accumulators.mapValues(\.norms)
    }
}
