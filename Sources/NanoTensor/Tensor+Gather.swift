/// Row gather (embedding lookup) and its adjoint, the row scatter-add.
extension Tensor {
    /// The rows of `table` picked by `indices`, in order.
    ///
    /// `table`: [V, D] → result [indices.count, D]. Every index must lie in `0..<V`; repeats are allowed.
    public static func gatherRows(_ table: Tensor, _ indices: [Int]) -> Tensor {
        precondition(table.rank == 2, "gatherRows: table must be [rows, width], got shape \(table.shape)")
        let rows = table.shape[0], width = table.shape[1]
        checkRowIndices(indices, rows: rows, "gatherRows")
        let out = uninitializedScalars(indices.count * width) { d in
            table.scalars.withUnsafeBufferPointer { src in
                let s = src.baseAddress!
                for (i, row) in indices.enumerated() {
                    (d + i * width).initialize(from: s + row * width, count: width)
                }
            }
        }
        return Tensor(shape: [indices.count, width], scalars: out)
    }

    /// Adds row `i` of `grad` into row `indices[i]` of a zero [rows, D] tensor (the adjoint of
    /// `gatherRows`): rows picked more than once accumulate every contribution.
    ///
    /// `grad`: [indices.count, D] → result [rows, D].
    public static func scatterAddRows(_ grad: Tensor, _ indices: [Int], rows: Int) -> Tensor {
        precondition(grad.rank == 2 && grad.shape[0] == indices.count,
                     "scatterAddRows: grad must be [\(indices.count), width] for \(indices.count) indices, got \(grad.shape)")
        precondition(rows >= 0, "scatterAddRows: negative row count \(rows)")
        let width = grad.shape[1]
        checkRowIndices(indices, rows: rows, "scatterAddRows")
        var out = [Float](repeating: 0, count: rows * width)
        if out.isEmpty || indices.isEmpty { return Tensor(shape: [rows, width], scalars: out) }
        grad.scalars.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!, d = dst.baseAddress!
                for (i, row) in indices.enumerated() {
                    let from = s + i * width, to = d + row * width
                    for j in 0..<width { to[j] += from[j] }
                }
            }
        }
        return Tensor(shape: [rows, width], scalars: out)
    }

    static func checkRowIndices(_ indices: [Int], rows: Int, _ op: String) {
        for (position, index) in indices.enumerated() where index < 0 || index >= rows {
            preconditionFailure("\(op): index \(index) at position \(position) is out of range 0..<\(rows)")
        }
    }
}
