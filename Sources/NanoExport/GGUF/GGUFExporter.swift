import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// Exports a model as a GGUF file that llama.cpp loads: the BERT sentence encoder as
/// architecture `bert`, decoders as `llama` (RMSNorm, rotary, SwiGLU, no biases) or `gpt2`
/// (LayerNorm, learned positions, GELU MLP, biases); other models are refused with
/// `CheckpointError.invalidConfig` naming what llama.cpp has no place for.
///
/// The requested type applies to 2-D Linear weights, the token embedding and the LM head; a
/// block type (`GGUFBlockEncoder.encodable`, round to nearest as llama-quantize without an
/// imatrix) needs rows of whole blocks (32, or 256 for the K-quants), and a tensor whose rows are
/// not falls back to F16 (listed in the summary's notes). Norms, biases and position/type embeddings
/// stay F32. The values are re-encoded from the weights nanoforge evaluates; the packed
/// `ExportSource.quantized` forms are not used, since ggml's block formats differ from them.
public enum GGUFExporter {
    /// What was written: the architecture, each tensor with its type, and every deviation.
    public struct Summary: Equatable, Sendable {
        public var architecture: String
        public var tensors: [String: GGUFTensorType]
        public var notes: [String]
    }

    /// The tensor types an export may request.
    public static let exportTypes: [GGUFTensorType] = [.f32, .f16] + GGUFBlockEncoder.encodable

    /// Writes `source` to `path` atomically.
    @discardableResult
    public static func export(_ source: ExportSource, to path: String, type: GGUFTensorType) throws -> Summary {
        let (writer, summary) = try makeWriter(source, type: type, path: path)
        try writer.write(to: path)
        return summary
    }

    /// The writer `export` would write, and its summary; `path` names the file in errors.
    public static func makeWriter(_ source: ExportSource, type: GGUFTensorType, path: String = "<gguf>") throws -> (GGUFWriter, Summary) {
        guard exportTypes.contains(type) else {
            throw CheckpointError.invalidConfig(file: path, field: "type", reason: "GGUF export writes \(exportTypes.map(\.name).joined(separator: ", ")), not \(type.name)")
        }
        guard let exportable = source.model.container as? GGUFExportable else {
            throw CheckpointError.invalidConfig(file: path, field: "architecture",
                                                reason: "llama.cpp has no architecture for nanoforge's \(source.model.architecture.name) model; export it as ONNX or safetensors")
        }
        var plan = try exportable.ggufPlan(vocabulary: source.vocabulary, path: path)
        var writer = GGUFWriter()
        writer.set("general.architecture", .string(plan.architecture))
        writer.set("general.file_type", .uint32(fileType(type)))
        if type.blockSize > 1 { writer.set("general.quantization_version", .uint32(2)) }
        for (key, value) in plan.metadata { writer.set(key, value) }
        for (key, value) in source.provenance.keyValues { writer.set(key, .string(value)) }
        var types: [String: GGUFTensorType] = [:]
        for t in plan.tensors {
            var chosen = t.quantizable ? type : .f32
            if chosen.blockSize > 1, (t.value.shape.last ?? 0) % chosen.blockSize != 0 {
                plan.notes.append("\(t.name): rows of \(t.value.shape.last ?? 0) are not a multiple of \(chosen.blockSize); stored as F16 instead of \(chosen.name)")
                chosen = .f16
            }
            writer.addTensor(t.name, t.value, as: chosen)
            types[t.name] = chosen
        }
        return (writer, Summary(architecture: plan.architecture, tensors: types, notes: plan.notes))
    }

    /// llama.cpp's `general.file_type` (`llama_ftype`): the predominant tensor type (the K types
    /// as their `_S` mixes, which are the closest to one type throughout).
    static func fileType(_ type: GGUFTensorType) -> UInt32 {
        let ftypes: [GGUFTensorType: UInt32] = [.f16: 1, .q4_0: 2, .q4_1: 3, .q8_0: 7, .q5_0: 8, .q5_1: 9, .q2_K: 10,
                                                .q3_K: 11, .q4_K: 14, .q5_K: 16, .q6_K: 18, .iq4_nl: 25]
        return ftypes[type] ?? 0
    }

    /// The GGUF side of an export: architecture, keys, and tensors under llama.cpp's names.
    /// Each family that llama.cpp runs conforms to `GGUFExportable` beside its plan.
    struct Plan {
        struct Item {
            var name: String
            var value: Tensor
            /// Takes the requested type (2-D weights, token embedding, LM head); else F32.
            var quantizable: Bool
        }
        var architecture: String
        var metadata: [(String, GGUFValue)] = []
        var tensors: [Item] = []
        var notes: [String] = []

        mutating func add(_ name: String, _ value: Tensor, quantizable: Bool = false) {
            tensors.append(Item(name: name, value: value, quantizable: quantizable))
        }

        /// `{arch}.suffix` keys.
        mutating func key(_ suffix: String, _ value: GGUFValue) { metadata.append(("\(architecture).\(suffix)", value)) }
    }

    /// One uint32, or an array of them when layers differ (llama.cpp reads either for per-layer keys).
    static func perLayer(_ values: [Int]) -> GGUFValue {
        if let first = values.first, values.allSatisfy({ $0 == first }) { return .uint32(UInt32(first)) }
        return .array(.uint32, values.map { .uint32(UInt32($0)) })
    }
}

/// A model family with a llama.cpp architecture (conformances beside each plan).
protocol GGUFExportable {
    /// Keys and tensors under llama.cpp's names; `vocabulary` is the tokenizer's, when it has one.
    func ggufPlan(vocabulary: [String]?, path: String) throws -> GGUFExporter.Plan
}
