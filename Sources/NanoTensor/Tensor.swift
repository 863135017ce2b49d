import Foundation

/// A dense Float32 tensor: contiguous, row-major, with value semantics.
///
/// Storage is a Swift array, so copies are cheap until one side writes (copy-on-write).
/// Shapes are checked with preconditions: a shape mismatch inside the core is a programming
/// error, while input from users (files, recipes) is validated before it reaches here.
public struct Tensor: Equatable, Sendable {
    /// The extent of each axis, outermost first.
    public private(set) var shape: [Int]
    /// The elements in row-major order; `scalars.count == shape.product`.
    public var scalars: [Float]

    /// A tensor of the given shape holding `scalars` in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in shape \(shape)")
        precondition(shape.elementCount == scalars.count,
                     "Tensor: shape \(shape) needs \(shape.elementCount) scalars, got \(scalars.count)")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of the given shape with every element equal to `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: value, count: shape.elementCount))
    }

    /// A zero-filled tensor.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }

    /// A tensor filled with ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A rank-0 tensor.
    public init(scalar: Float) { self.init(shape: [], scalars: [scalar]) }

    /// A tensor whose elements are produced by `body` for each flat index.
    public init(shape: [Int], generating body: (Int) -> Float) {
        let n = shape.elementCount
        self.init(shape: shape, scalars: (0..<n).map(body))
    }

    public var rank: Int { shape.count }
    public var count: Int { scalars.count }

    /// The single value of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "Tensor.scalar: tensor of shape \(shape) has \(count) elements")
        return scalars[0]
    }

    /// The same elements viewed with another shape of equal element count (no copy).
    /// One extent may be -1, to be inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var result = self
        result.shape = Tensor.resolve(newShape, count: count)
        return result
    }

    static func resolve(_ newShape: [Int], count: Int) -> [Int] {
        let inferred = newShape.filter { $0 == -1 }.count
        precondition(inferred <= 1, "reshape: at most one -1 in \(newShape)")
        if inferred == 1 {
            let known = newShape.filter { $0 != -1 }.reduce(1, *)
            precondition(known > 0 && count % known == 0, "reshape: cannot reshape \(count) elements into \(newShape)")
            return newShape.map { $0 == -1 ? count / known : $0 }
        }
        precondition(newShape.elementCount == count,
                     "reshape: cannot reshape \(count) elements into \(newShape)")
        return newShape
    }

    /// Element at a multi-index (slow; for tests and small tools).
    public subscript(index: Int...) -> Float {
        get { scalars[flatIndex(index)] }
        set { scalars[flatIndex(index)] = newValue }
    }

    func flatIndex(_ index: [Int]) -> Int {
        precondition(index.count == rank, "Tensor subscript: \(index.count) indices for rank \(rank)")
        var flat = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "Tensor subscript: index \(i) out of range for axis \(axis) of \(shape)")
            flat = flat * shape[axis] + i
        }
        return flat
    }
}

extension Array where Element == Int {
    /// The number of elements a tensor of this shape holds.
    public var elementCount: Int { reduce(1, *) }

    /// Row-major strides for this shape.
    public var rowMajorStrides: [Int] {
        var strides = [Int](repeating: 1, count: count)
        var s = 1
        for axis in stride(from: count - 1, through: 0, by: -1) {
            strides[axis] = s
            s *= self[axis]
        }
        return strides
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
