import NanoTensor

/// Structured pruning of the Llama family: each `model.layers.i` is a prunable block (its
/// `self_attn` and `mlp`), whole blocks can be dropped, and the configuration records the new
/// depth and widths. The configuration holds one width for every block (as llama.cpp's loaders
/// and `LlamaKVCache` expect), so blocks must keep equal widths.
extension LlamaModel: BlockDroppableModel {
    public var prunableBlocks: [PrunableBlock] {
        blocks.enumerated().map { i, block in
            let layer = "model.layers.\(i)"
            let feedForward = [layer + ".mlp.up_proj"] + (block.feedForward.gate == nil ? [] : [layer + ".mlp.gate_proj"]) + [layer + ".mlp.down_proj"]
            return PrunableBlock(path: layer, attention: block.attention, feedForward: block.feedForward,
                                 attentionProjections: ["q_proj", "k_proj", "v_proj", "o_proj"].map { layer + ".self_attn." + $0 },
                                 feedForwardProjections: feedForward,
                                 attentionOutput: layer + ".self_attn.o_proj", feedForwardDown: layer + ".mlp.down_proj")
        }
    }

    public var allowsBlocksOfDifferentWidths: Bool { false }

    public func recordBlockSizes() {
        guard let first = blocks.first else { return }
        precondition(blocks.allSatisfy {
            $0.attention.heads == first.attention.heads && $0.attention.kvHeads == first.attention.kvHeads
                && $0.feedForward.hiddenWidth == first.feedForward.hiddenWidth
        }, "Llama: every block must keep the same widths (the configuration holds one)")
        configuration.layers = blocks.count
        configuration.heads = first.attention.heads
        configuration.kvHeads = first.attention.kvHeads
        configuration.headDimension = first.attention.headDimension
        configuration.feedForwardWidth = first.feedForward.hiddenWidth
    }

    public func keepBlocks(_ kept: [Int]) {
        precondition(!kept.isEmpty && zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 } && kept.allSatisfy(blocks.indices.contains),
                     "keepBlocks: indices must be ascending, distinct and in range, at least one")
        blocks = kept.map { blocks[$0] }
        configuration.layers = blocks.count
    }

    public func residualStream(_ tokens: [Int]) -> [Tensor] {
        let tape = Tape(recording: false)
        var x = tokenEmbedding(tokens, shape: [1, tokens.count], tape: tape)
        let mask = Masks.causal(tokens.count)
        var states = [x.value.reshaped([tokens.count, configuration.width])]
        for block in blocks {
            x = block(x, mask: mask, tape: tape)
            states.append(x.value.reshaped([tokens.count, configuration.width]))
        }
        return states
    }
}
