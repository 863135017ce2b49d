import NanoCheckpoint
import NanoModels

/// Every Linear layer of a model with its checkpoint-style name (the parameter name without the
/// `.weight` suffix, e.g. `encoder.layer.0.attention.self.query`), in parameter order.
///
/// Pruning passes take this list (filtered by the recipe's `LayerSelector`) as the layers to act
/// on; the `Linear` objects are the model's own, so zeroing their weights prunes the model.
public func linearLayers(of model: LoadedModel) -> [(name: String, layer: Linear)] {
    switch model {
    case .bert(let m): return linearLayers(of: m)
    case .decoder(let m): return linearLayers(of: m)
    case .mlp(let m): return m.layers.enumerated().map { ("layers.\($0.offset)", $0.element) }
    }
}

/// The Linear layers of a BERT encoder, with Hugging Face names.
public func linearLayers(of model: BertEncoder) -> [(name: String, layer: Linear)] {
    var list: [(name: String, layer: Linear)] = []
    for (i, layer) in model.layers.enumerated() {
        let p = "encoder.layer.\(i)."
        list.append((p + "attention.self.query", layer.attention.query))
        list.append((p + "attention.self.key", layer.attention.key))
        list.append((p + "attention.self.value", layer.attention.value))
        list.append((p + "attention.output.dense", layer.attention.output))
        list.append((p + "intermediate.dense", layer.feedForward.up))
        list.append((p + "output.dense", layer.feedForward.down))
    }
    if let pooler = model.pooler { list.append(("pooler.dense", pooler)) }
    return list
}

/// The Linear layers of a decoder, with its Llama-style names.
public func linearLayers(of model: GPTDecoder) -> [(name: String, layer: Linear)] {
    var list: [(name: String, layer: Linear)] = []
    for (i, block) in model.blocks.enumerated() {
        let p = "blocks.\(i)."
        list.append((p + "attn.q_proj", block.attention.query))
        list.append((p + "attn.k_proj", block.attention.key))
        list.append((p + "attn.v_proj", block.attention.value))
        list.append((p + "attn.o_proj", block.attention.output))
        list.append((p + "ffn.up_proj", block.feedForward.up))
        if let gate = block.feedForward.gate { list.append((p + "ffn.gate_proj", gate)) }
        list.append((p + "ffn.down_proj", block.feedForward.down))
    }
    list.append(("lm_head", model.head))
    return list
}
