import NanoTensor

/// A lookup table of `count` vectors of width `dimension`: table [count, dimension].
public final class Embedding: ParameterContainer {
    public let weight: Variable

    public var count: Int { weight.shape[0] }
    public var dimension: Int { weight.shape[1] }

    public init(weight: Tensor) {
        precondition(weight.rank == 2, "Embedding: table must be [count, dim], got \(weight.shape)")
        self.weight = Variable(weight, requiresGrad: true)
    }

    public convenience init(_ count: Int, _ dimension: Int, std: Float = 0.02, rng: inout RandomGenerator) {
        self.init(weight: rng.normal(shape: [count, dimension], std: std))
    }

    /// ids laid out as `shape` → [shape..., dimension]
    public func callAsFunction(_ ids: [Int], shape: [Int], tape: Tape) -> Variable {
        tape.embedding(weight, indices: ids, shape: shape)
    }

    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        visit(join(prefix, "weight"), weight)
    }
}
