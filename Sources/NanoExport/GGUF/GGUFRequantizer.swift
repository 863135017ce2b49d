import Foundation
import NanoCheckpoint
import NanoTensor

/// Re-encodes a GGUF file's weight matrices as one block type, as `llama-quantize --pure
/// --allow-requantize FILE OUT TYPE` does without an importance matrix: every tensor of two or
/// more dimensions whose name ends in `weight` is dequantized to Float32 and encoded by
/// `GGUFBlockEncoder` (round to nearest, ggml's bytes); other tensors (norms, biases) are copied
/// as stored, and so is every metadata key except `general.file_type` and
/// `general.quantization_version`, which describe the new encoding. A matrix whose rows are not
/// whole blocks of `type` is written as F16 and named in the notes (llama-quantize picks another
/// block type there instead).
public enum GGUFRequantizer {
    /// Writes `input` re-encoded as `type` to `output` atomically; returns the notes.
    @discardableResult
    public static func requantize(input: String, to output: String, type: GGUFTensorType) throws -> [String] {
        guard GGUFBlockEncoder.canEncode(type) || type == .f16 || type == .f32 else {
            throw CheckpointError.invalidConfig(file: output, field: "type", reason:
                "GGUF re-encoding writes F32, F16 or \(GGUFBlockEncoder.encodable.map(\.name).joined(separator: ", ")), not \(type.name)")
        }
        let file = try GGUFFile.read(path: input)
        var writer = GGUFWriter()
        for key in file.keys where key != "general.file_type" && key != "general.quantization_version" {
            writer.set(key, file.metadata[key]!)
        }
        writer.set("general.file_type", .uint32(GGUFExporter.fileType(type)))
        if type.blockSize > 1 { writer.set("general.quantization_version", .uint32(2)) }
        var notes: [String] = []
        for info in file.tensors {
            guard info.dimensions.count >= 2, info.name.hasSuffix("weight") else {
                writer.addTensor(info.name, shape: info.shape, type: info.type, bytes: file.rawData(info))
                continue
            }
            var chosen = type
            if info.dimensions[0] % type.blockSize != 0 {
                notes.append("\(info.name): rows of \(info.dimensions[0]) are not whole \(type.name) blocks; stored as F16")
                chosen = .f16
            }
            writer.addTensor(info.name, Tensor(shape: info.shape, scalars: try file.floatValues(info.name)), as: chosen)
        }
        try writer.write(to: output)
        return notes
    }
}
