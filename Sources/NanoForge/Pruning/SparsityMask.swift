import NanoTensor

/// Which elements of a weight tensor survive pruning, one bit per element (1 = kept).
///
/// The one mask type every pruning method produces and every consumer (zeroing, export of sparse
/// weights, the report) reads. Bits are packed 64 to a word in row-major order, so MiniLM's
/// largest layer (1536 × 384) takes 72 KiB instead of 2.3 MiB of `Float`s.
public struct SparsityMask: Equatable, Sendable {
    /// The shape of the tensor the mask applies to.
    public let shape: [Int]
    /// Packed keep-bits, element `i` at bit `i % 64` of word `i / 64`.
    public private(set) var words: [UInt64]

    /// The number of elements covered.
    public var count: Int { shape.elementCount }

    /// A mask keeping every element.
    public init(keepingAll shape: [Int]) {
        self.shape = shape
        let n = shape.elementCount
        words = [UInt64](repeating: ~0, count: (n + 63) / 64)
        if n % 64 != 0, !words.isEmpty { words[words.count - 1] = (1 << UInt64(n % 64)) - 1 }
    }

    /// A mask keeping exactly the elements where `keep` is true (row-major).
    public init(shape: [Int], keep: [Bool]) {
        precondition(keep.count == shape.elementCount, "SparsityMask: \(keep.count) flags for shape \(shape)")
        self.shape = shape
        words = [UInt64](repeating: 0, count: (keep.count + 63) / 64)
        for (i, k) in keep.enumerated() where k { words[i >> 6] |= 1 << UInt64(i & 63) }
    }

    /// The mask of a tensor's non-zero elements (what a pruned tensor already is).
    public init(nonZerosOf tensor: Tensor) {
        self.init(shape: tensor.shape, keep: tensor.scalars.map { $0 != 0 })
    }

    /// Whether element `i` (row-major) is kept.
    public subscript(i: Int) -> Bool {
        get { words[i >> 6] & (1 << UInt64(i & 63)) != 0 }
        set {
            if newValue { words[i >> 6] |= 1 << UInt64(i & 63) } else { words[i >> 6] &= ~(1 << UInt64(i & 63)) }
        }
    }

    /// The number of kept elements.
    public var keptCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The number of pruned (zeroed) elements.
    public var prunedCount: Int { count - keptCount }

    /// The exact fraction of pruned elements, prunedCount / count (0 for an empty mask).
    public var sparsity: Double { count == 0 ? 0 : Double(prunedCount) / Double(count) }

    /// `tensor` with every pruned element set to zero.
    public func apply(to tensor: Tensor) -> Tensor {
        precondition(tensor.shape == shape, "SparsityMask: mask \(shape) applied to tensor \(tensor.shape)")
        var out = tensor
        out.scalars.withUnsafeMutableBufferPointer { p in
            for w in words.indices where words[w] != ~0 {
                let bits = words[w], base = w << 6
                for b in 0..<Swift.min(64, p.count - base) where bits & (1 << UInt64(b)) == 0 { p[base + b] = 0 }
            }
        }
        return out
    }

    /// The elements kept by both masks.
    public func intersection(_ other: SparsityMask) -> SparsityMask {
        precondition(other.shape == shape, "SparsityMask: intersecting \(shape) with \(other.shape)")
        var out = self
        for i in words.indices { out.words[i] &= other.words[i] }
        return out
    }
}

/// The exact sparsity of several tensors taken together: Σ zeros / Σ elements.
public func overallSparsity(_ masks: [SparsityMask]) -> Double {
    let total = masks.reduce(0) { $0 + $1.count }
    return total == 0 ? 0 : Double(masks.reduce(0) { $0 + $1.prunedCount }) / Double(total)
}
