import Foundation
import NanoCheckpoint
import NanoQuant
import NanoTensor

/// GPTQ on a ggml block format: the same column loop as the integer grids (`GPTQ.Problem`), with
/// each column rounded to the nearest value on exactly the grid its block stores
/// (`GGMLBlockGrid`), so the result is a valid block encoding that llama.cpp reads as it is.
///
/// At the first column of each block (32 values, or a K-quant's 256-value super-block) the
/// block's parameters (f16 scale and min, K-quant sub-block scales and mins, quantized against
/// the super-block's d and dmin) are chosen by ggml's own per-block search
/// (`GGUFBlockEncoder`) from the row's current, error-compensated values of the whole block;
/// those scales are kept and the codes are then re-chosen column by column, each column's
/// rounding error propagated to the later columns as GPTQ does. The GPTQ block size is aligned
/// so that a ggml block never straddles two lazy-update blocks (its values are exact when its
/// first column is reached).
///
/// With `activationOrder`, ggml blocks stay runs of consecutive original columns (a GGUF row is
/// stored in order) and their parameters come up front from ggml's search on the original
/// weight, as the integer grids' static groups do; the codes are still chosen in activation order.
///
/// With `importanceWeightedBlocks`, ggml's block search weighs each column by the Hessian's
/// diagonal (Σx² of that input over the calibration rows: llama.cpp's importance matrix), as
/// `llama-quantize --imatrix` does; the codes are still GPTQ's.
///
/// Weights exactly zero on entry (pruned) take the code nearest to 0 (exactly 0 on the
/// symmetric grids) and count their whole value as error; dead inputs (diag H = 0) are zeroed.
extension GPTQ {
    /// GPTQ's settings for a ggml block type.
    public struct GGMLConfiguration: Equatable, Sendable {
        /// A type of `GGUFBlockEncoder.encodable` whose block divides the weight's rows.
        public var type: GGUFTensorType
        public var dampingFraction: Double
        public var blockSize: Int
        public var activationOrder: Bool
        /// Block parameters from ggml's search weighted by the Hessian's diagonal.
        public var importanceWeightedBlocks: Bool

        public init(type: GGUFTensorType, dampingFraction: Double = 0.01, blockSize: Int = 128, activationOrder: Bool = false,
                    importanceWeightedBlocks: Bool = false) {
            self.type = type
            self.dampingFraction = dampingFraction
            self.blockSize = blockSize
            self.activationOrder = activationOrder
            self.importanceWeightedBlocks = importanceWeightedBlocks
        }
    }

    /// Quantizes a weight [out, in] into `c.type`'s blocks against the Hessian of its
    /// calibration inputs.
    public static func quantize(_ weight: Tensor, hessian accumulator: HessianAccumulator,
                                configuration c: GGMLConfiguration) throws -> GGMLQuantizedTensor {
        let grid = try GGMLBlockGrid(type: c.type)
        guard weight.shape.count == 2 else { throw QuantizationError.notAMatrix(shape: weight.shape) }
        guard GGMLQuantizedTensor.fits(c.type, columns: weight.shape[1]) else {
            throw QuantizationError.ggmlRowLength(type: c.type.name, blockSize: c.type.blockSize, columns: weight.shape[1])
        }
        guard c.blockSize > 0 else { throw QuantizationError.nonPositiveBlockSize(found: c.blockSize) }
        var problem = try Problem(weight, hessian: accumulator, activationOrder: c.activationOrder, dampingFraction: c.dampingFraction)
        let (rows, columns) = (problem.rows, problem.columns)
        let elements = grid.elements, blockBytes = grid.blockBytes
        let rowBytes = columns / elements * blockBytes
        let dynamicBlocks = !c.activationOrder
        let importance: [Float]? = c.importanceWeightedBlocks
            ? (0..<columns).map { Float(accumulator.sum[$0 * columns + $0]) } : nil
        // The legacy types' weighted search reads σ² of the whole row; its values change as GPTQ
        // goes, so σ² is the original row's (what `llama-quantize --imatrix` would use).
        let rowMeanSquares: [Float] = (0..<rows).map { r in
            problem.weight.scalars[r * columns..<(r + 1) * columns].reduce(0) { $0 + $1 * $1 } / Float(columns)
        }

        // Static blocks: ggml's search on the whole (dead-zeroed) weight, once.
        var bytes = dynamicBlocks
            ? [UInt8](repeating: 0, count: rows * rowBytes)
            : [UInt8](try GGUFBlockEncoder.encode(problem.weight.scalars, as: c.type, rowLength: columns, importance: importance,
                                                  tensor: "weight", file: "<memory>"))
        let order = problem.order, pruned = problem.pruned
        bytes.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            problem.compensate(blockSize: c.blockSize, alignedTo: dynamicBlocks ? elements : nil) { r, i, row in
                let column = order[i]
                let block = base + r * rowBytes + column / elements * blockBytes
                let e = column % elements
                if dynamicBlocks && e == 0 {
                    // In dynamic mode the order is the identity: row[i ..< i + elements] is the block.
                    encodeBlock(row + i, pruned: pruned, at: r * columns + column, type: c.type, importance: importance,
                                column: column, rowMeanSquare: rowMeanSquares[r], into: block)
                }
                let g = grid.element(e, in: block)
                let code = g.nearest(pruned[r * columns + column] ? 0 : row[i])
                grid.setCode(code, element: e, in: block)
                return g.value(code)
            }
        }
        return try GGMLQuantizedTensor(shape: weight.shape, type: c.type, blocks: Data(bytes))
    }

    /// ggml's parameter search (its round to nearest, weighted by `importance` when given) on one
    /// block of current values, pruned entries counted as 0, written at `block`.
    private static func encodeBlock(_ values: UnsafeMutablePointer<Float>, pruned: [Bool], at first: Int,
                                    type: GGUFTensorType, importance: [Float]?, column: Int, rowMeanSquare: Float,
                                    into block: UnsafeMutablePointer<UInt8>) {
        let n = type.blockSize
        withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
            for j in 0..<n { scratch[j] = pruned[first + j] ? 0 : values[j] }
            if let importance {
                importance.withUnsafeBufferPointer { w in
                    GGUFBlockEncoder.encodeBlock(scratch.baseAddress!, as: type, importance: w.baseAddress! + column,
                                                 rowMeanSquare: rowMeanSquare, into: block)
                }
            } else {
                GGUFBlockEncoder.encodeBlock(scratch.baseAddress!, as: type, importance: nil, rowMeanSquare: rowMeanSquare, into: block)
            }
        }
    }
}
