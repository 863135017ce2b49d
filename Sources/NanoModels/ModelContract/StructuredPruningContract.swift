import NanoTensor

/// One residual block as structured pruning sees it: its attention and feed-forward units (the
/// shared `MultiHeadAttention` and `FeedForward`, whose `replaceProjections` shrink them) and the
/// module-walk names of their projections, which `targets` / `ignore` select.
public struct PrunableBlock {
    /// The block's path (`model.layers.3`, `encoder.layer.3`).
    public let path: String
    public let attention: MultiHeadAttention
    public let feedForward: FeedForward
    /// Names of the query, key, value and output projections (as `layers(of: Linear.self)` lists them).
    public let attentionProjections: [String]
    /// Names of the up, gate (when there is one) and down projections.
    public let feedForwardProjections: [String]
    /// The name of the attention's output projection, whose input norms rank heads.
    public let attentionOutput: String
    /// The name of the feed-forward's down projection, whose input norms rank channels.
    public let feedForwardDown: String

    public init(path: String, attention: MultiHeadAttention, feedForward: FeedForward, attentionProjections: [String],
                feedForwardProjections: [String], attentionOutput: String, feedForwardDown: String) {
        self.path = path; self.attention = attention; self.feedForward = feedForward
        self.attentionProjections = attentionProjections; self.feedForwardProjections = feedForwardProjections
        self.attentionOutput = attentionOutput; self.feedForwardDown = feedForwardDown
    }
}

/// A model built from a stack of residual blocks whose feed-forward channels and attention heads
/// structured pruning can remove (width). Optional: a family that does not conform cannot be
/// pruned structurally, and the pass says so.
public protocol StructurallyPrunableModel: ParameterContainer {
    /// The blocks, in order.
    var prunableBlocks: [PrunableBlock] { get }
    /// Whether the configuration can hold blocks of different widths (per-layer sizes); when not,
    /// every block must keep the same number of channels and heads.
    var allowsBlocksOfDifferentWidths: Bool { get }
    /// Writes the sizes the blocks have now into the configuration (after their projections
    /// were replaced), so the saved config loads back.
    func recordBlockSizes()
}

/// A structurally prunable model whose whole blocks can also be removed (depth). The residual
/// stream passes a removed block unchanged, so the rest of the model is untouched.
public protocol BlockDroppableModel: StructurallyPrunableModel {
    /// Keeps only the blocks `kept` (ascending, distinct, at least one), renumbered from 0; the
    /// configuration records the new depth.
    func keepBlocks(_ kept: [Int])
    /// The residual stream for one token sequence: the hidden states entering each block and
    /// leaving the last, `prunableBlocks.count + 1` tensors of [tokens, width] (what block
    /// influence compares).
    func residualStream(_ tokens: [Int]) -> [Tensor]
}

/// A model whose residual-stream width (the hidden size, embedding channels) can shrink, as in
/// Minitron (Muralidharan et al. 2024): one set of channels is kept in every tensor that reads or
/// writes the residual stream. Optional, like the other pruning capabilities.
public protocol HiddenWidthPrunableModel: ParameterContainer {
    /// The residual stream's width.
    var hiddenWidth: Int { get }
    /// The Linear layers (module-walk names) that read the normalised residual stream: their
    /// input norms on calibration text rank the channels.
    var residualReaders: [String] { get }
    /// Keeps residual channels `kept` (ascending, distinct, at least one) in every tensor on the
    /// residual stream (embedding columns, norm weights, input columns of its readers, output rows
    /// of its writers); the configuration records the new width. Norms then average over fewer
    /// channels, so the function changes unless the removed channels were zero.
    func keepHiddenChannels(_ kept: [Int])
}

extension Tensor {
    /// Columns `columns` of a 2-D tensor [rows, columns.count], in that order.
    public func gatheringColumns(_ columns: [Int]) -> Tensor {
        precondition(rank == 2 && columns.allSatisfy { (0..<shape[1]).contains($0) }, "gatheringColumns: bad shape \(shape) or columns")
        let n = shape[1]
        var out: [Float] = []
        out.reserveCapacity(shape[0] * columns.count)
        for r in 0..<shape[0] { for c in columns { out.append(scalars[r * n + c]) } }
        return Tensor(shape: [shape[0], columns.count], scalars: out)
    }
}
