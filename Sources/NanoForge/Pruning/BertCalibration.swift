import NanoModels
import NanoTensor

/// Runs a BERT encoder on calibration batches and hands every Linear layer's input to a callback,
/// for Wanda's activation norms (and any pass that needs per-layer inputs).
///
/// The forward pass repeats `BertEncoder`'s own, block by block, so that the inputs of the inner
/// projections (attention context before `attention.output.dense`, GELU output before
/// `output.dense`) are visible; the final hidden states equal `BertEncoder.callAsFunction`'s
/// (checked by the tests). Norms come from the dense model in one pass, as in Wanda's one-shot
/// setting; padding tokens are skipped through the attention mask.
public enum BertCalibration {
    /// Calls `visit(name, input, rowMask)` for each Linear layer, with input [tokens, in] and one
    /// mask flag per token (1 = real token). Returns the last hidden states [B, T, width].
    @discardableResult
    public static func forEachLinearInput(_ model: BertEncoder, ids: [Int], attentionMask: Tensor,
                                          _ visit: (String, Tensor, [Float]) -> Void) -> Tensor {
        let tape = Tape(recording: false)
        let (b, t) = (attentionMask.shape[0], attentionMask.shape[1])
        let rowMask = attentionMask.scalars
        func flat(_ v: Variable) -> Tensor { v.value.reshaped([b * t, v.shape[v.rank - 1]]) }
        var x = model.wordEmbeddings(ids, shape: [b, t], tape: tape)
        x = tape.add(x, model.positionEmbeddings(Array(0..<t), shape: [t], tape: tape))
        x = tape.add(x, model.tokenTypeEmbeddings([0], shape: [1], tape: tape))
        x = model.embeddingNorm(x, tape: tape)
        let mask = Masks.padding(attentionMask: attentionMask)
        for (i, layer) in model.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            let attention = layer.attention
            for name in ["query", "key", "value"] { visit(p + "attention.self." + name, flat(x), rowMask) }
            let q = Attention.splitHeads(attention.query(x, tape: tape), heads: attention.heads, tape: tape)
            let k = Attention.splitHeads(attention.key(x, tape: tape), heads: attention.kvHeads, tape: tape)
            let v = Attention.splitHeads(attention.value(x, tape: tape), heads: attention.kvHeads, tape: tape)
            let context = Attention.mergeHeads(Attention.scaledDotProduct(q: q, k: k, v: v, mask: mask, tape: tape), tape: tape)
            visit(p + "attention.output.dense", flat(context), rowMask)
            let h = layer.attentionNorm(tape.add(x, attention.output(context, tape: tape)), tape: tape)
            visit(p + "intermediate.dense", flat(h), rowMask)
            let ff = layer.feedForward
            let inner = ff.activation.apply(ff.up(h, tape: tape), tape: tape)
            visit(p + "output.dense", flat(inner), rowMask)
            x = layer.outputNorm(tape.add(h, ff.down(inner, tape: tape)), tape: tape)
        }
        return x.value
    }

    /// ‖X_j‖₂ per input feature of every Linear layer, over all real tokens of `batches`.
    public static func inputNorms(_ model: BertEncoder, batches: [(ids: [Int], attentionMask: Tensor)]) -> [String: [Float]] {
        var accumulators: [String: ActivationNormAccumulator] = [:]
        for batch in batches {
            forEachLinearInput(model, ids: batch.ids, attentionMask: batch.attentionMask) { name, input, rowMask in
                let features = input.shape[1]
                accumulators[name, default: ActivationNormAccumulator(features: features)].add(input, rowMask: rowMask)
            }
        }
        return accumulators.mapValues(\.norms)
    }
}
