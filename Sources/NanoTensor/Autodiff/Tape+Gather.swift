/// Differentiable embedding lookup.
extension Tape {
    /// Rows of `table` [V, D] picked by `indices`, shaped `shape + [D]`.
    ///
    /// `indices.count` must equal the product of `shape` (e.g. `shape: [batch, length]` for token
    /// ids in row-major order). The gradient scatter-adds into the table, so a token that occurs
    /// several times collects every occurrence's gradient.
    public func embedding(_ table: Variable, indices: [Int], shape: [Int]) -> Variable {
        precondition(table.rank == 2, "embedding: table must be [vocabulary, width], got \(table.shape)")
        precondition(shape.allSatisfy { $0 >= 0 } && shape.elementCount == indices.count,
                     "embedding: \(indices.count) indices do not fill shape \(shape)")
        let rows = table.shape[0], width = table.shape[1]
        let out = Tensor.gatherRows(table.value, indices).reshaped(shape + [width])
        return record(out, inputs: [table]) { g, _ in
            [Tensor.scatterAddRows(g.reshaped([indices.count, width]), indices, rows: rows)]
        }
    }
}
