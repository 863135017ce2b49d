import Foundation

/// Differentiable elementwise arithmetic with broadcasting, and reductions.
extension Tape {
    public func add(_ a: Variable, _ b: Variable) -> Variable {
        record(a.value + b.value, inputs: [a, b]) { g, needs in
            [needs[0] ? g.sumToShape(a.shape) : nil, needs[1] ? g.sumToShape(b.shape) : nil]
        }
    }

    public func sub(_ a: Variable, _ b: Variable) -> Variable {
        record(a.value - b.value, inputs: [a, b]) { g, needs in
            [needs[0] ? g.sumToShape(a.shape) : nil, needs[1] ? (-g).sumToShape(b.shape) : nil]
        }
    }

    public func mul(_ a: Variable, _ b: Variable) -> Variable {
        record(a.value * b.value, inputs: [a, b]) { g, needs in
            [needs[0] ? (g * b.value).sumToShape(a.shape) : nil,
             needs[1] ? (g * a.value).sumToShape(b.shape) : nil]
        }
    }

    public func div(_ a: Variable, _ b: Variable) -> Variable {
        let out = a.value / b.value
        return record(out, inputs: [a, b]) { g, needs in
            [needs[0] ? (g / b.value).sumToShape(a.shape) : nil,
             needs[1] ? (-(g * out) / b.value).sumToShape(b.shape) : nil]
        }
    }

    /// `a * s` for a constant scalar.
    public func scale(_ a: Variable, by s: Float) -> Variable {
        record(a.value * s, inputs: [a]) { g, _ in [g * s] }
    }

    /// `a + s` for a constant scalar.
    public func addScalar(_ a: Variable, _ s: Float) -> Variable {
        record(a.value + s, inputs: [a]) { g, _ in [g] }
    }

    public func neg(_ a: Variable) -> Variable { scale(a, by: -1) }

    public func square(_ a: Variable) -> Variable {
        record(a.value * a.value, inputs: [a]) { g, _ in [g * a.value * 2] }
    }

    public func exp(_ a: Variable) -> Variable {
        let out = a.value.exp()
        return record(out, inputs: [a]) { g, _ in [g * out] }
    }

    public func log(_ a: Variable) -> Variable {
        record(a.value.log(), inputs: [a]) { g, _ in [g / a.value] }
    }

    public func sqrt(_ a: Variable) -> Variable {
        let out = a.value.applying { $0.squareRoot() }
        return record(out, inputs: [a]) { g, _ in [g / (out * 2)] }
    }

    public func sum(_ a: Variable, axes: [Int] = [], keepDims: Bool = false) -> Variable {
        let kept = a.value.sum(axes: axes, keepDims: true)
        return record(keepDims ? kept : a.value.sum(axes: axes, keepDims: false), inputs: [a]) { g, _ in
            [g.reshaped(kept.shape) + Tensor.zeros(a.shape)]
        }
    }

    public func mean(_ a: Variable, axes: [Int] = [], keepDims: Bool = false) -> Variable {
        let list = axes.isEmpty ? Array(0..<a.rank) : axes.map { $0 < 0 ? $0 + a.rank : $0 }
        let n = Float(Set(list).map { a.shape[$0] }.reduce(1, *))
        return scale(sum(a, axes: axes, keepDims: keepDims), by: 1 / n)
    }

    /// Maximum along one axis; the gradient flows to the first maximal element.
    public func max(_ a: Variable, axis: Int, keepDims: Bool = false) -> Variable {
        let ax = axis < 0 ? axis + a.rank : axis
        let (values, indices) = a.value.maxWithIndices(axis: ax, keepDims: keepDims)
        return record(values, inputs: [a]) { g, _ in
            let (outer, n, inner) = a.value.split(around: ax)
            var grad = [Float](repeating: 0, count: a.value.count)
            for o in 0..<outer {
                for j in 0..<inner {
                    grad[(o * n + indices[o * inner + j]) * inner + j] = g.scalars[o * inner + j]
                }
            }
            return [Tensor(shape: a.shape, scalars: grad)]
        }
    }
}
