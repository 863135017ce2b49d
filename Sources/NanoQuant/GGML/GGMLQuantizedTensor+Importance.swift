import Foundation
import NanoCheckpoint
import NanoTensor

extension GGMLQuantizedTensor {
    /// ggml's round to nearest under an importance matrix (`llama-quantize --imatrix`), byte for
    /// byte: `importance` holds one non-negative weight per input column (the weight's
    /// `ImportanceMatrix.importance(for:)`, the mean squared activation of that column), and
    /// every block's scale search minimizes the error weighted by it. nil is
    /// `roundToNearest(_:as:)`. Q8_0 ignores the importance, as ggml does.
    public static func roundToNearest(_ weight: Tensor, as type: GGUFTensorType, importance: [Float]?) throws -> GGMLQuantizedTensor {
        guard let importance else { return try roundToNearest(weight, as: type) }
        guard weight.shape.count == 2 else { throw QuantizationError.notAMatrix(shape: weight.shape) }
        guard fits(type, columns: weight.shape[1]) else {
            throw QuantizationError.ggmlRowLength(type: type.name, blockSize: type.blockSize, columns: weight.shape[1])
        }
        guard importance.count == weight.shape[1] else {
            throw QuantizationError.calibrationWidthMismatch(expected: weight.shape[1], found: importance.count)
        }
        let bytes = try GGUFBlockEncoder.encode(weight.scalars, as: type, rowLength: weight.shape[1], importance: importance,
                                                tensor: "weight", file: "<memory>")
        return try GGMLQuantizedTensor(shape: weight.shape, type: type, blocks: bytes)
    }
}
