import NanoModels
import NanoTensor

/// The graph of a BERT sentence encoder (`LoadedModel.bert`), computing what `BertEncoder`
/// followed by `SentencePooling.sentenceEmbeddings` computes.
///
/// Inputs `input_ids`, `attention_mask`, `token_type_ids`: int64 [batch, sequence].
/// Outputs `last_hidden_state` [batch, sequence, width] and `sentence_embedding` [batch, width]
/// (mean over the attention mask, then L2 normalisation). Each layer is exported with its own
/// head count and feed-forward width, so structurally pruned models keep their shapes.
enum ONNXBertGraph {
    static func build(_ model: BertEncoder, into b: ONNXGraphBuilder) throws {
        let c = model.configuration
        guard model.layers.count == c.layers else {
            throw ONNXExportError.unsupportedModel(family: "bert", reason: "\(model.layers.count) layers, but the configuration says \(c.layers)")
        }
        let tokens: [ONNXValueInfo.Dimension] = [.parameter("batch"), .parameter("sequence")]
        for input in ["input_ids", "attention_mask", "token_type_ids"] { b.addInput(input, .int64, tokens) }

        // Embeddings: word + position (0..<T) + token type, then LayerNorm.
        let words = b.op("Gather", [b.initializer("embeddings.word_embeddings.weight", model.wordEmbeddings.weight.value), "input_ids"],
                         "embeddings")
        let positionTable = b.initializer("embeddings.position_embeddings.weight", model.positionEmbeddings.weight.value)
        let positions = b.leadingRows(positionTable, length: b.sequenceLength("input_ids"), name: "embeddings")
        let types = b.op("Gather", [b.initializer("embeddings.token_type_embeddings.weight", model.tokenTypeEmbeddings.weight.value),
                                    "token_type_ids"], "embeddings")
        var x = b.op("Add", [b.op("Add", [words, positions], "embeddings"), types], "embeddings")
        x = b.layerNorm(x, model.embeddingNorm, name: "embeddings.LayerNorm")

        // The attention mask as Masks.padding builds it: 0 for tokens, -1e9 for padding, [B, 1, 1, T].
        let maskFloat = b.op("Cast", ["attention_mask"], "mask", .int("to", Int(ONNXDataType.float.rawValue)))
        let padding = b.op("Mul", [b.op("Sub", [b.scalar(1), maskFloat], "mask"), b.scalar(Masks.maskedValue)], "mask")
        let additive = b.op("Unsqueeze", [padding, b.int64s([1, 2])], "mask")

        for (i, layer) in model.layers.enumerated() {
            let p = "encoder.layer.\(i)."
            let names = ONNXGraphBuilder.AttentionNames(query: p + "attention.self.query", key: p + "attention.self.key",
                                                        value: p + "attention.self.value", output: p + "attention.output.dense",
                                                        block: p + "attention")
            let attended = try b.attention(x, layer.attention, mask: additive, rotary: nil, names: names)
            let h = b.layerNorm(b.op("Add", [x, attended], p + "attention"), layer.attentionNorm, name: p + "attention.output.LayerNorm")
            let ff = try b.feedForward(h, layer.feedForward, up: p + "intermediate.dense", gate: nil, down: p + "output.dense",
                                       name: p + "intermediate")
            x = b.layerNorm(b.op("Add", [h, ff], p + "output"), layer.outputNorm, name: p + "output.LayerNorm")
        }

        // Mean pooling over the mask (counts clamped at 1e-9), then x / max(‖x‖₂, 1e-12): SentencePooling.
        let maskColumn = b.op("Unsqueeze", [maskFloat, b.int64s([2])], "pooling")
        let summed = b.op("ReduceSum", [b.op("Mul", [x, maskColumn], "pooling"), b.int64s([1])], "pooling", .int("keepdims", 0))
        let counts = b.op("ReduceSum", [maskFloat, b.int64s([1])], "pooling", .int("keepdims", 1))
        let mean = b.op("Div", [summed, b.op("Max", [counts, b.scalar(1e-9)], "pooling")], "pooling")
        let squares = b.op("ReduceSum", [b.op("Mul", [mean, mean], "normalize"), b.int64s([-1])], "normalize", .int("keepdims", 1))
        let norm = b.op("Max", [b.op("Sqrt", [squares], "normalize"), b.scalar(1e-12)], "normalize")
        let embedding = b.op("Div", [mean, norm], "normalize")

        b.addOutput(x, as: "last_hidden_state", .float, tokens + [.value(Int64(c.width))])
        b.addOutput(embedding, as: "sentence_embedding", .float, [.parameter("batch"), .value(Int64(c.width))])
    }
}

extension BertEncoder: ONNXGraphExportable {
    static var onnxGraphName: String { "nanoforge_bert" }
    func buildONNXGraph(into builder: ONNXGraphBuilder) throws { try ONNXBertGraph.build(self, into: builder) }
}
