/// Structured pruning of BERT encoders (width only): each `encoder.layer.i` is a prunable block,
/// its projections under Hugging Face's names; per-layer sizes go to the configuration
/// (`layerIntermediateWidths`, `layerHeads`) when layers differ.
extension BertEncoder: StructurallyPrunableModel {
    public var prunableBlocks: [PrunableBlock] {
        layers.enumerated().map { i, layer in
            let p = "encoder.layer.\(i)."
            return PrunableBlock(path: "encoder.layer.\(i)", attention: layer.attention, feedForward: layer.feedForward,
                                 attentionProjections: ["attention.self.query", "attention.self.key", "attention.self.value",
                                                        "attention.output.dense"].map { p + $0 },
                                 feedForwardProjections: [p + "intermediate.dense", p + "output.dense"],
                                 attentionOutput: p + "attention.output.dense", feedForwardDown: p + "output.dense")
        }
    }

    public var allowsBlocksOfDifferentWidths: Bool { true }

    public func recordBlockSizes() { recordLayerSizes() }
}
