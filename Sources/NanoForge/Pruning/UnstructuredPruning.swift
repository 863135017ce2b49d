import NanoModels
import NanoTensor

/// Unstructured and N:M semi-structured pruning of Linear weights: zeroes the lowest-scoring
/// weights (magnitude or Wanda) and returns the masks, with exact sparsity.
///
/// **Exactness.** For a target sparsity s over N weights, exactly round(s · N) are pruned. Ties in
/// score are broken by position (earlier layer, then lower row-major index, is pruned first), so
/// the masks are a deterministic function of the weights and norms.
///
/// **Comparison groups** (which weights compete with each other):
/// - `.layer` scope, magnitude: all weights of the layer.
/// - `.layer` scope, Wanda: each output row on its own, as in the paper (Sun et al. 2023, §3:
///   "per-output" comparison works better than per-layer for activation-scaled scores). The
///   layer's round(s · N) pruned weights are spread over rows as evenly as possible (the first
///   rows take one more when it does not divide).
/// - `.global` scope: one threshold over the scores of every given layer together. For magnitude
///   this lets layers with small weights lose more. For Wanda the raw |W|·‖X‖ scores are compared
///   across layers, so layers whose inputs have large norms (e.g. the feed-forward down
///   projection after GELU) keep more; the paper only argues row-wise comparability, so prefer
///   `.layer` for Wanda.
/// - N:M patterns: every group of M consecutive input weights in a row keeps its N largest
///   scores, whatever the scope; the sparsity is (M − N)/M exactly.
public struct UnstructuredPruning: Sendable {
    /// Which weights compete for survival.
    public enum Scope: String, Equatable, Hashable, Sendable, CaseIterable { case layer, global }

    /// The pass's options, as the recipe's `prune` stage gives them.
    public struct Configuration: Equatable, Sendable {
        public var method: PruningMethod
        /// The fraction of weights to prune, in [0, 1). May be `nil` for N:M patterns (implied);
        /// if given with N:M it must equal (M − N)/M.
        public var sparsity: Double?
        public var pattern: SparsityPattern
        public var scope: Scope

        public init(method: PruningMethod = .magnitude, sparsity: Double? = nil, pattern: SparsityPattern = .unstructured, scope: Scope = .layer) {
            self.method = method; self.sparsity = sparsity; self.pattern = pattern; self.scope = scope
        }
    }

    /// One layer's outcome.
    public struct LayerResult: Equatable, Sendable {
        public var name: String
        public var mask: SparsityMask
        public var sparsity: Double { mask.sparsity }
    }

    public let configuration: Configuration
    /// The sparsity every layer (or, for `.global`, all layers together) is pruned to.
    public let targetSparsity: Double

    /// Validates the configuration: pattern, sparsity in [0, 1), sparsity consistent with N:M.
    public init(_ configuration: Configuration) throws {
        try configuration.pattern.validate()
        let target: Double
        if let implied = configuration.pattern.impliedSparsity {
            if let s = configuration.sparsity, Swift.abs(s - implied) > 1e-9 {
                throw PruningError.sparsityConflictsWithPattern(sparsity: s, pattern: configuration.pattern.description, implied: implied)
            }
            target = implied
        } else {
            guard let s = configuration.sparsity else {
                throw PruningError.valueOutOfRange(option: "sparsity", allowed: "a number in [0, 1) for unstructured pruning", found: .nan)
            }
            target = s
        }
        guard target >= 0, target < 1 else {
            throw PruningError.valueOutOfRange(option: "sparsity", allowed: "a number in [0, 1)", found: target)
        }
        self.configuration = configuration
        targetSparsity = target
    }

    /// The masks for `layers` without touching them. `inputNorms` maps a layer name to ‖X_j‖₂ per
    /// input feature (required for Wanda; see `ActivationNormAccumulator`).
    public func masks(for layers: [(name: String, layer: Linear)], inputNorms: [String: [Float]] = [:]) throws -> [LayerResult] {
        var scores: [(name: String, scores: Tensor)] = []
        for (name, layer) in layers {
            try configuration.pattern.validate(inputWidth: layer.inFeatures, layer: name)
            let s = try PruningScore.scores(configuration.method, weight: layer.weight.value, inputNorms: inputNorms[name], layer: name)
            scores.append((name, s))
        }
        if case let .nOfM(n, m) = configuration.pattern {
            return scores.map { LayerResult(name: $0.name, mask: MaskSelection.nOfM($0.scores, n: n, m: m)) }
        }
        switch configuration.scope {
        case .layer:
            return scores.map { entry in
                let k = MaskSelection.pruneCount(sparsity: targetSparsity, of: entry.scores.count)
                let mask = configuration.method == .wanda
                    ? MaskSelection.lowestPerRow(entry.scores, count: k)
                    : MaskSelection.lowest([entry.scores], count: k)[0]
                return LayerResult(name: entry.name, mask: mask)
            }
        case .global:
            guard !scores.isEmpty else { throw PruningError.noLayers }
            let total = scores.reduce(0) { $0 + $1.scores.count }
            let masks = MaskSelection.lowest(scores.map(\.scores), count: MaskSelection.pruneCount(sparsity: targetSparsity, of: total))
            return zip(scores, masks).map { LayerResult(name: $0.name, mask: $1) }
        }
    }

    /// Computes the masks and zeroes the pruned weights of `layers` in place (biases are kept).
    @discardableResult
    public func apply(to layers: [(name: String, layer: Linear)], inputNorms: [String: [Float]] = [:]) throws -> [LayerResult] {
        let results = try masks(for: layers, inputNorms: inputNorms)
        for ((_, layer), result) in zip(layers, results) {
            layer.weight.value = result.mask.apply(to: layer.weight.value)
        }
        return results
    }
}
