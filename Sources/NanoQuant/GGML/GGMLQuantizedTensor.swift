import Foundation
import NanoCheckpoint
import NanoTensor

/// A weight [out, in] held in one of ggml's block formats: the bytes exactly as a GGUF file
/// stores them (rows of `in` elements, each a run of whole blocks of consecutive values), so that
/// what nanoforge evaluates (`dequantized()`) is what llama.cpp reads from the exported file.
///
/// The quantizers that fill it (round to nearest, importance-weighted round to nearest, GPTQ on
/// the block grid) choose the bytes; this type only holds and decodes them.
public struct GGMLQuantizedTensor: Equatable, Sendable {
    /// [out, in]: `in` is the GGUF row length (ne[0]).
    public let shape: [Int]
    /// A block type of `GGUFBlockEncoder.encodable`.
    public let type: GGUFTensorType
    /// The blocks, row after row.
    public let blocks: Data

    /// A tensor from its blocks; the row length must be whole blocks of `type` and the byte count
    /// must match the shape.
    public init(shape: [Int], type: GGUFTensorType, blocks: Data) throws {
        guard shape.count == 2, shape[0] > 0, shape[1] > 0 else { throw QuantizationError.notAMatrix(shape: shape) }
        guard GGUFBlockEncoder.canEncode(type) else {
            throw QuantizationError.unsupportedGGMLType(name: type.name, allowed: GGUFBlockEncoder.encodable.map(\.name))
        }
        guard let expected = type.byteCount(elements: shape[0] * shape[1], rowLength: shape[1]) else {
            throw QuantizationError.ggmlRowLength(type: type.name, blockSize: type.blockSize, columns: shape[1])
        }
        guard blocks.count == expected else {
            throw QuantizationError.storageMismatch(field: "blocks", expected: expected, found: blocks.count)
        }
        self.shape = shape
        self.type = type
        self.blocks = blocks
    }

    /// Whether `type` can hold a weight whose rows have `columns` elements.
    public static func fits(_ type: GGUFTensorType, columns: Int) -> Bool {
        GGUFBlockEncoder.canEncode(type) && columns > 0 && columns % type.blockSize == 0
    }

    /// ggml's own round to nearest (`llama-quantize` without an importance matrix), byte for byte.
    public static func roundToNearest(_ weight: Tensor, as type: GGUFTensorType) throws -> GGMLQuantizedTensor {
        guard weight.shape.count == 2 else { throw QuantizationError.notAMatrix(shape: weight.shape) }
        guard fits(type, columns: weight.shape[1]) else {
            throw QuantizationError.ggmlRowLength(type: type.name, blockSize: type.blockSize, columns: weight.shape[1])
        }
        let bytes = try GGUFBlockEncoder.encode(weight.scalars, as: type, rowLength: weight.shape[1], tensor: "weight", file: "<memory>")
        return try GGMLQuantizedTensor(shape: weight.shape, type: type, blocks: bytes)
    }

    public var rows: Int { shape[0] }
    public var columns: Int { shape[1] }

    /// The weight the blocks stand for, [out, in], bit-identical to gguf-py's `dequantize`.
    public func dequantized() -> Tensor {
        let values = blocks.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: rows * columns) }
        // init checked type, row length and byte count, so decoding cannot fail.
        return Tensor(shape: shape, scalars: values!)
    }

    /// Stored bytes.
    public var byteCount: Int { blocks.count }

    /// Stored bits per weight, block scales included (Q4_0: 4.5, Q4_K: 4.5, Q8_0: 8.5).
    public var bitsPerWeight: Double { type.bitsPerWeight }
}
