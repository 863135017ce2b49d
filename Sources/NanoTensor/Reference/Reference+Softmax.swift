import Foundation

/// Softmax and log-softmax with a max-subtracted sum in Double, slice by slice.
extension Reference {
    /// eˣ / Σ eˣ along `axis`.
    public static func softmax(_ x: Tensor, axis: Int = -1) -> Tensor {
        alongAxis(x, axis) { slice in
            let m = slice.max() ?? 0
            let e = slice.map { Foundation.exp($0 - m) }
            let s = e.reduce(0, +)
            return e.map { $0 / s }
        }
    }

    /// x - log Σ eˣ along `axis`.
    public static func logSoftmax(_ x: Tensor, axis: Int = -1) -> Tensor {
        alongAxis(x, axis) { slice in
            let m = slice.max() ?? 0
            let logSum = Foundation.log(slice.map { Foundation.exp($0 - m) }.reduce(0, +))
            return slice.map { $0 - m - logSum }
        }
    }

    /// Gathers every slice along `axis` into a Double array, applies `f`, and scatters the result.
    static func alongAxis(_ x: Tensor, _ axis: Int, _ f: ([Double]) -> [Double]) -> Tensor {
        let ax = axis < 0 ? axis + x.rank : axis
        precondition(ax >= 0 && ax < x.rank, "Reference: axis \(axis) out of range for shape \(x.shape)")
        let n = x.shape[ax]
        let inner = x.shape[(ax + 1)...].reduce(1, *)
        let outer = n == 0 ? 0 : x.count / (n * inner)
        var out = [Float](repeating: 0, count: x.count)
        for o in 0..<outer {
            for j in 0..<inner {
                let indices = (0..<n).map { (o * n + $0) * inner + j }
                let result = f(indices.map { Double(x.scalars[$0]) })
                for (k, index) in indices.enumerated() { out[index] = Float(result[k]) }
            }
        }
        return Tensor(shape: x.shape, scalars: out)
    }
}
