import Foundation
import NanoModels
import NanoTensor

/// The graph of a causal decoder (`LoadedModel.decoder`): `input_ids` int64 [batch, sequence] →
/// `logits` float [batch, sequence, vocabulary], computing what `GPTDecoder` computes: token
/// embedding (+ learned positions), pre-norm blocks with LayerNorm or RMSNorm, rotary or no
/// position rotation, grouped-query attention, MLP or SwiGLU feed-forward, final norm, LM head.
enum ONNXDecoderGraph {
    static func build(_ model: GPTDecoder, into b: ONNXGraphBuilder) throws {
        let c = model.configuration
        try check(model)
        b.addInput("input_ids", .int64, [.parameter("batch"), .parameter("sequence")])
        let length = b.sequenceLength("input_ids")

        var x = b.op("Gather", [b.initializer("tok_embeddings.weight", model.tokenEmbedding.weight.value), "input_ids"], "tok_embeddings")
        if let table = model.positionEmbedding {
            let rows = b.leadingRows(b.initializer("pos_embeddings.weight", table.weight.value), length: length, name: "pos_embeddings")
            x = b.op("Add", [x, rows], "pos_embeddings")
        }
        let mask = causalMask(length: length, b)
        let rotary = model.blocks.first?.attention.rotary.map { rotaryTables($0, length: length, b) }

        for (i, block) in model.blocks.enumerated() {
            let p = "blocks.\(i)."
            let names = ONNXGraphBuilder.AttentionNames(query: p + "attn.q_proj", key: p + "attn.k_proj", value: p + "attn.v_proj",
                                                        output: p + "attn.o_proj", block: p + "attn")
            let normed = b.norm(x, block.attentionNorm, name: p + "attn_norm")
            let h = b.op("Add", [x, try b.attention(normed, block.attention, mask: mask, rotary: rotary, names: names)], p + "attn")
            let ff = try b.feedForward(b.norm(h, block.feedForwardNorm, name: p + "ffn_norm"), block.feedForward,
                                       up: p + "ffn.up_proj", gate: block.feedForward.gate == nil ? nil : p + "ffn.gate_proj",
                                       down: p + "ffn.down_proj", name: p + "ffn")
            x = b.op("Add", [h, ff], p + "ffn")
        }
        let logits = try b.linear(b.norm(x, model.finalNorm, name: "norm"), model.head, name: "lm_head")
        b.addOutput(logits, as: "logits", .float, [.parameter("batch"), .parameter("sequence"), .value(Int64(c.vocabularySize))])
    }

    /// Refuses models the graph cannot reproduce exactly.
    static func check(_ model: GPTDecoder) throws {
        let c = model.configuration
        func refuse(_ reason: String) -> ONNXExportError { .unsupportedModel(family: "decoder", reason: reason) }
        guard model.head.outFeatures == c.vocabularySize else {
            throw refuse("the LM head has \(model.head.outFeatures) outputs for a vocabulary of \(c.vocabularySize)")
        }
        let ropes = model.blocks.map(\.attention.rotary)
        if let first = ropes.first ?? nil {
            // One pair of cos/sin tables serves every block.
            for (i, rope) in ropes.enumerated() {
                guard let rope, rope.base == first.base, rope.headDimension == first.headDimension else {
                    throw refuse("block \(i) has rotary settings that differ from block 0; one shared rotary table is supported")
                }
                guard rope.headDimension == model.blocks[i].attention.headDimension else {
                    throw refuse("block \(i): rotary head dimension \(rope.headDimension) differs from the attention's \(model.blocks[i].attention.headDimension)")
                }
            }
        } else if ropes.contains(where: { $0 != nil }) {
            throw refuse("rotary embeddings on some blocks but not on block 0")
        }
    }

    /// Additive causal mask [T, T] as Masks.causal: 0 where key ≤ query, -1e9 for future keys.
    private static func causalMask(length: String, _ b: ONNXGraphBuilder) -> String {
        let t = b.op("Squeeze", [length], "causal_mask")
        let positions = b.op("Range", [b.int64Scalar(0), t, b.int64Scalar(1)], "causal_mask")
        let queries = b.op("Unsqueeze", [positions, b.int64s([1])], "causal_mask")   // [T, 1]
        let keys = b.op("Unsqueeze", [positions, b.int64s([0])], "causal_mask")      // [1, T]
        let future = b.op("Greater", [keys, queries], "causal_mask")
        return b.op("Where", [future, b.scalar(Masks.maskedValue), b.scalar(0)], "causal_mask")
    }

    /// cos/sin tables [maxLength, D/2] computed as RotaryEmbedding computes them (angles in
    /// Double, t·base^(−2i/D)), cut to the first T rows.
    private static func rotaryTables(_ rope: RotaryEmbedding, length: String, _ b: ONNXGraphBuilder) -> (cos: String, sin: String) {
        let half = rope.headDimension / 2
        var cosines = [Float](repeating: 0, count: rope.maxLength * half), sines = cosines
        for t in 0..<rope.maxLength {
            for i in 0..<half {
                let angle = Double(t) * Foundation.pow(Double(rope.base), -2 * Double(i) / Double(rope.headDimension))
                cosines[t * half + i] = Float(Foundation.cos(angle))
                sines[t * half + i] = Float(Foundation.sin(angle))
            }
        }
        let cosTable = b.initializer("rotary.cos", floats: cosines, dims: [rope.maxLength, half])
        let sinTable = b.initializer("rotary.sin", floats: sines, dims: [rope.maxLength, half])
        return (b.leadingRows(cosTable, length: length, name: "rotary"), b.leadingRows(sinTable, length: length, name: "rotary"))
    }
}

extension GPTDecoder: ONNXGraphExportable {
    static var onnxGraphName: String { "nanoforge_decoder" }
    func buildONNXGraph(into builder: ONNXGraphBuilder) throws { try ONNXDecoderGraph.build(self, into: builder) }
}
