import NanoModels
import NanoTensor

/// The block-level operations of structured pruning, shared by every architecture built from
/// `FeedForward` and `MultiHeadAttention`: importance per unit, and rebuilding smaller projections.
extension StructuredPruning {
    /// One importance per intermediate neuron: L2 norm of its up/gate row and down column, or,
    /// given the norms of `down`'s input, ‖a_j‖₂ · ‖W_down[:, j]‖₂.
    public static func neuronImportance(_ ff: FeedForward, intermediateNorms: [Float]?) -> [Float] {
        let downColumns = columnSquaredNorms(ff.down.weight.value)
        if let intermediateNorms {
            precondition(intermediateNorms.count == downColumns.count, "neuronImportance: \(intermediateNorms.count) norms for \(downColumns.count) neurons")
            return zip(intermediateNorms, downColumns).map { $0 * $1.squareRoot() }
        }
        var total = zip(rowSquaredNorms(ff.up.weight.value), downColumns).map(+)
        if let gate = ff.gate { total = zip(total, rowSquaredNorms(gate.weight.value)).map(+) }
        return total.map { $0.squareRoot() }
    }

    /// One importance per attention head: L2 norm of its query/key/value rows and output columns,
    /// or, given the norms of the output projection's input, √(Σ_j∈h ‖c_j‖₂² ‖W_o[:, j]‖₂²).
    /// Without grouped-query attention a head is its own key/value group, so this is the group
    /// importance of the model-contract path.
    public static func headImportance(_ attention: MultiHeadAttention, contextNorms: [Float]?, layer: String) throws -> [Float] {
        guard attention.kvHeads == attention.heads else {
            throw PruningError.groupedQueryAttention(layer: layer, heads: attention.heads, kvHeads: attention.kvHeads)
        }
        let queryImportance = try queryHeadImportance(attention, contextNorms: contextNorms, layer: layer)
        return groupImportance(attention, queryImportance: queryImportance, byWeights: contextNorms == nil)
    }

    /// Rebuilds `ff` with only the intermediate neurons `kept` (ascending indices).
    public static func keepNeurons(_ ff: FeedForward, _ kept: [Int]) {
        ff.replaceProjections(up: keepingRows(ff.up, kept), gate: ff.gate.map { keepingRows($0, kept) },
                              down: keepingColumns(ff.down, kept))
    }

    /// Rebuilds `attention` with only the heads `kept` (ascending indices).
    public static func keepHeads(_ attention: MultiHeadAttention, _ kept: [Int], layer: String) throws {
        guard attention.kvHeads == attention.heads else {
            throw PruningError.groupedQueryAttention(layer: layer, heads: attention.heads, kvHeads: attention.kvHeads)
        }
        let d = attention.headDimension
        let features = kept.flatMap { h in h * d..<(h + 1) * d }
        attention.replaceProjections(query: keepingRows(attention.query, features), key: keepingRows(attention.key, features),
                                     value: keepingRows(attention.value, features), output: keepingColumns(attention.output, features),
                                     heads: kept.count, kvHeads: kept.count)
    }

    /// A new Linear with only output features `rows` (weight rows and bias entries).
    public static func keepingRows(_ linear: Linear, _ rows: [Int]) -> Linear {
        let w = linear.weight.value, cols = w.shape[1]
        var scalars: [Float] = []
        scalars.reserveCapacity(rows.count * cols)
        for r in rows { scalars.append(contentsOf: w.scalars[r * cols..<(r + 1) * cols]) }
        let bias = linear.bias.map { b in Tensor(shape: [rows.count], scalars: rows.map { b.value.scalars[$0] }) }
        return Linear(weight: Tensor(shape: [rows.count, cols], scalars: scalars), bias: bias)
    }

    /// A new Linear with only input features `columns` (weight columns; the bias is unchanged).
    public static func keepingColumns(_ linear: Linear, _ columns: [Int]) -> Linear {
        let w = linear.weight.value, (rows, cols) = (w.shape[0], w.shape[1])
        var scalars: [Float] = []
        scalars.reserveCapacity(rows * columns.count)
        for r in 0..<rows { for c in columns { scalars.append(w.scalars[r * cols + c]) } }
        return Linear(weight: Tensor(shape: [rows, columns.count], scalars: scalars), bias: linear.bias?.value)
    }

    /// Σ_j W[i, j]² per row i. w: [out, in] → [out]
    static func rowSquaredNorms(_ w: Tensor) -> [Float] {
        let cols = w.shape[1]
        return (0..<w.shape[0]).map { r in w.scalars[r * cols..<(r + 1) * cols].reduce(0) { $0 + $1 * $1 } }
    }

    /// Σ_i W[i, j]² per column j. w: [out, in] → [in]
    static func columnSquaredNorms(_ w: Tensor) -> [Float] {
        let (rows, cols) = (w.shape[0], w.shape[1])
        var out = [Float](repeating: 0, count: cols)
        for r in 0..<rows { for c in 0..<cols { let v = w.scalars[r * cols + c]; out[c] += v * v } }
        return out
    }
}
