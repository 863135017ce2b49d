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

/// Hidden width: the embedding's columns, every RMSNorm's weight, the input columns of q/k/v,
/// gate/up and the head, the output rows of o_proj and down_proj. The head dimension is stored
/// in the configuration, so the attention keeps its heads.
extension LlamaModel: HiddenWidthPrunableModel {
    public var hiddenWidth: Int { configuration.width }

    public var residualReaders: [String] {
        blocks.indices.flatMap { ["model.layers.\($0).self_attn.q_proj", "model.layers.\($0).mlp.up_proj"] } + (head == nil ? [] : ["lm_head"])
    }

    public func keepHiddenChannels(_ kept: [Int]) {
        precondition(!kept.isEmpty && zip(kept, kept.dropFirst()).allSatisfy { $0 < $1 } && kept.allSatisfy { (0..<hiddenWidth).contains($0) },
                     "keepHiddenChannels: indices must be ascending, distinct and below \(hiddenWidth)")
        func vector(_ v: Variable) { v.value = Tensor(shape: [kept.count], scalars: kept.map { v.value.scalars[$0] }) }
        func readers(_ linears: [Linear]) { for l in linears { l.weight.value = l.weight.value.gatheringColumns(kept) } }
        func writer(_ l: Linear) {
            l.weight.value = Tensor.gatherRows(l.weight.value, kept)
            if let b = l.bias { vector(b) }
        }
        func norm(_ n: Norm) { if case .rms(let r) = n { vector(r.weight) } }
        tokenEmbedding.weight.value = tokenEmbedding.weight.value.gatheringColumns(kept)
        for block in blocks {
            norm(block.attentionNorm)
            norm(block.feedForwardNorm)
            let a = block.attention, f = block.feedForward
            readers([a.query, a.key, a.value, f.up] + (f.gate.map { [$0] } ?? []))
            writer(a.output)
            writer(f.down)
        }
        vector(finalNorm.weight)
        if let head { readers([head]) }
        configuration.width = kept.count
    }
}
