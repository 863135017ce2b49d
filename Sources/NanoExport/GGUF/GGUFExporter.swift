import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// Exports a model as a GGUF file that llama.cpp loads: the BERT sentence encoder as
/// architecture `bert`, Llama-family models (`LlamaModel`) as `llama` (`qwen2` with attention
/// biases) with their byte-level BPE tokenizer and chat template, nanoforge's decoders as `llama`
/// (RMSNorm, rotary, SwiGLU, no biases) or `gpt2` (LayerNorm, learned positions, GELU MLP, biases);
/// other models are refused with `CheckpointError.invalidConfig` naming what llama.cpp has no
/// place for.
///
/// Each tensor whose layer holds ggml block codes (`ExportSource.ggmlQuantized`, what nanoforge
/// evaluated) is written with those bytes as they are, in its own type, so one file mixes types.
/// The other 2-D Linear weights, token embedding and LM head take `type`: Q8_0 by default, F32,
/// F16 (the values nanoforge evaluated, to within f16 rounding), or a block type
/// (`GGUFBlockEncoder.encodable`, round to nearest as llama-quantize without an imatrix) that
/// needs rows of whole blocks (32, or 256 for the K-quants); a tensor whose rows are not falls
/// back to F16 (listed in the summary's notes). Norms, biases and position/type embeddings stay
/// F32. The nanoforge-packed `ExportSource.quantized` forms are not used, since ggml's block
/// formats differ from them: those layers are encoded from their dequantized values.
public enum GGUFExporter {
    /// What was written: the architecture, each tensor with its type, and every deviation.
    public struct Summary: Equatable, Sendable {
        public var architecture: String
        public var tensors: [String: GGUFTensorType]
        /// The tensors written from ggml codes as they are (the others were encoded at export).
        public var fromCodes: Set<String> = []
        public var notes: [String]

        /// Tensors and bytes of each type, most bytes first: "Q4_0: 120 tensors, 38.2 MB".
        public var typeTable: [String] {
            var count: [GGUFTensorType: Int] = [:]
            for type in tensors.values { count[type, default: 0] += 1 }
            return count.keys.sorted { bytes[$0, default: 0] > bytes[$1, default: 0] }.map { type in
                let codes = tensors.filter { $0.value == type && fromCodes.contains($0.key) }.count
                return "\(type.name): \(count[type]!) tensors (\(codes) from ggml codes), \(String(format: "%.2f", Double(bytes[type, default: 0]) / 1e6)) MB"
            }
        }
        /// Bytes by type.
        public var bytes: [GGUFTensorType: Int] = [:]
    }

    /// The tensor types an export may request.
    public static let exportTypes: [GGUFTensorType] = [.f32, .f16] + GGUFBlockEncoder.encodable

    /// The type of weights without ggml codes when none is requested (the CLI's `--gguf-type` and
    /// a recipe's `output.formats: [gguf]`): Q8_0, as before ggml codes were carried.
    public static let defaultType: GGUFTensorType = .q8_0

    /// Writes `source` to `path` atomically.
    @discardableResult
    public static func export(_ source: ExportSource, to path: String, type: GGUFTensorType = defaultType) throws -> Summary {
        let (writer, summary) = try makeWriter(source, type: type, path: path)
        try writer.write(to: path)
        return summary
    }

    /// The writer `export` would write, and its summary; `path` names the file in errors.
    public static func makeWriter(_ source: ExportSource, type: GGUFTensorType = defaultType, path: String = "<gguf>") throws -> (GGUFWriter, Summary) {
        let (writer, summary, _) = try build(source, type: type, path: path, reference: false)
        return (writer, summary)
    }

    /// What nanoforge decodes each tensor `export` writes to, as F32 under the GGUF tensor names and
    /// in the GGUF row order, for checking the file against another reader: for a tensor written
    /// from ggml codes and for F32, the weight nanoforge evaluates (the codes are checked to decode
    /// to it bit for bit); for one encoded at export (F16, a block type), the decoding of that
    /// encoding. `__metadata__["nanoforge.gguf_types"]` gives each tensor's type in the file and
    /// whether it came from ggml codes (`"Q4_K codes"`) or was encoded at export (`"F16"`, `"Q8_0"`).
    public static func referenceWeights(_ source: ExportSource, type: GGUFTensorType = defaultType, path: String = "<gguf>") throws -> TensorStore {
        try build(source, type: type, path: path, reference: true).2!
    }

    static func build(_ source: ExportSource, type: GGUFTensorType, path: String, reference: Bool)
        throws -> (GGUFWriter, Summary, TensorStore?) {
        guard exportTypes.contains(type) else {
            throw CheckpointError.invalidConfig(file: path, field: "type", reason: "GGUF export writes \(exportTypes.map(\.name).joined(separator: ", ")), not \(type.name)")
        }
        guard let exportable = source.model.container as? GGUFExportable else {
            throw CheckpointError.invalidConfig(file: path, field: "architecture",
                                                reason: "llama.cpp has no architecture for nanoforge's \(source.model.architecture.name) model; export it as ONNX or safetensors")
        }
        var plan = try exportable.ggufPlan(source, path: path)
        var writer = GGUFWriter()
        writer.set("general.architecture", .string(plan.architecture))
        writer.set("general.file_type", .uint32(0))   // set below, once the tensors' types are known
        for (key, value) in plan.metadata { writer.set(key, value) }
        for (key, value) in source.provenance.keyValues { writer.set(key, .string(value)) }
        var summary = Summary(architecture: plan.architecture, tensors: [:], notes: [])
        var referenceStore = reference ? TensorStore(source: path, format: .safetensors) : nil
        var origins: [(key: String, value: JSONValue)] = []
        var consumed = Set<String>()
        for t in plan.tensors {
            if let codes = try codes(for: t, in: source, path: path) {
                writer.addTensor(t.name, shape: t.value.shape, type: codes.type, bytes: codes.bytes)
                summary.tensors[t.name] = codes.type
                summary.fromCodes.insert(t.name)
                consumed.formUnion(t.layers)
                origins.append((t.name, .string("\(codes.type.name) codes")))
            } else {
                var chosen = t.quantizable ? type : .f32
                if chosen.blockSize > 1, (t.value.shape.last ?? 0) % chosen.blockSize != 0 {
                    plan.notes.append("\(t.name): rows of \(t.value.shape.last ?? 0) are not a multiple of \(chosen.blockSize); stored as F16 instead of \(chosen.name)")
                    chosen = .f16
                }
                writer.addTensor(t.name, t.value, as: chosen)
                summary.tensors[t.name] = chosen
                origins.append((t.name, .string(chosen.name)))
                if referenceStore != nil, chosen != .f32 {
                    // What the file holds for this tensor is its encoding, decoded.
                    let bytes = try GGUFWriter.encode(t.value, as: chosen, name: t.name, path: path)
                    let decoded = bytes.withUnsafeBytes { GGUFBlocks.decode($0, type: chosen, count: t.value.count) } ?? []
                    referenceStore?.insert(StoredTensor.encoding(Tensor(shape: t.value.shape, scalars: decoded), name: t.name))
                    continue
                }
            }
            // Codes decode to the evaluated weight (checked in `codes(for:in:path:)`), F32 is it.
            referenceStore?.insert(StoredTensor.encoding(t.value, name: t.name))
        }
        if let unused = source.ggmlQuantized.keys.sorted().first(where: { !consumed.contains($0) }) {
            throw CheckpointError.invalidConfig(file: path, field: unused, reason:
                "the layer holds \(source.ggmlQuantized[unused]!.type.name) codes, but no tensor of llama.cpp's \(plan.architecture) is written from it")
        }
        for (_, chosen, shape) in writer.tensors {
            summary.bytes[chosen, default: 0] += chosen.byteCount(elements: shape.reduce(1, *), rowLength: shape.last ?? 1) ?? 0
        }
        writer.set("general.file_type", .uint32(fileType(predominantType(writer.tensors) ?? type)))
        if writer.tensors.contains(where: { $0.type.blockSize > 1 }) { writer.set("general.quantization_version", .uint32(2)) }
        if !summary.fromCodes.isEmpty {
            plan.notes.append("\(summary.fromCodes.count) of \(plan.tensors.count) tensors written from the ggml codes nanoforge evaluated")
        }
        summary.notes = plan.notes
        referenceStore?.metadata["nanoforge.gguf_types"] = JSONValue.object(origins).serialized
        return (writer, summary, referenceStore)
    }

    /// The type holding the most weights among the quantized (block-type) tensors, as llama.cpp
    /// names a mixed file after its main type (its Q4_K_M keeps some tensors in Q6_K); nil without
    /// quantized tensors (the file is then named after the requested type). Ties go to the lower
    /// type id.
    static func predominantType(_ tensors: [(name: String, type: GGUFTensorType, shape: [Int])]) -> GGUFTensorType? {
        var elements: [GGUFTensorType: Int] = [:]
        for t in tensors where t.type.blockSize > 1 { elements[t.type, default: 0] += t.shape.reduce(1, *) }
        return elements.max { a, b in a.value < b.value || (a.value == b.value && a.key.rawValue > b.key.rawValue) }?.key
    }

    /// The ggml codes standing for plan tensor `t`: its layers' blocks stacked, rows reordered as
    /// the plan says; nil when its layers hold none. A partly coded stack, mixed types, a shape
    /// other than the tensor's, or codes that decode to other values than the weight nanoforge
    /// evaluates are errors naming the tensor.
    static func codes(for t: Plan.Item, in source: ExportSource, path: String) throws -> (type: GGUFTensorType, bytes: Data)? {
        let found = t.layers.compactMap { source.ggmlQuantized[$0] }
        guard !found.isEmpty else { return nil }
        func bad(_ reason: String) -> CheckpointError { .invalidTensor(file: path, tensor: t.name, reason: reason) }
        guard found.count == t.layers.count, Set(found.map(\.type)).count == 1 else {
            let described = t.layers.map { "\($0): \(source.ggmlQuantized[$0]?.type.name ?? "no codes")" }.joined(separator: ", ")
            throw bad("stacked from \(described); a stacked tensor needs codes of one type in every part")
        }
        let type = found[0].type
        let rows = found.reduce(0) { $0 + $1.rows }
        guard t.value.rank == 2, rows == t.value.shape[0], found.allSatisfy({ $0.columns == t.value.shape[1] }) else {
            throw bad("the ggml codes of \(t.layers.joined(separator: ", ")) have shape \(found.map(\.shape)), the weight \(t.value.shape)")
        }
        var bytes = Data(capacity: found.reduce(0) { $0 + $1.byteCount })
        for q in found { bytes.append(q.blocks) }
        if let order = t.rowOrder {
            let rowBytes = bytes.count / rows
            var permuted = Data(count: bytes.count)
            permuted.withUnsafeMutableBytes { dst in
                bytes.withUnsafeBytes { src in
                    for (r, from) in order.enumerated() {
                        dst.baseAddress!.advanced(by: r * rowBytes).copyMemory(from: src.baseAddress!.advanced(by: from * rowBytes), byteCount: rowBytes)
                    }
                }
            }
            bytes = permuted
        }
        // What the file holds must be what nanoforge evaluated: a pass that changed the weight
        // after choosing the codes would otherwise go unnoticed.
        let decoded = bytes.withUnsafeBytes { GGUFBlocks.decode($0, type: type, count: t.value.count) } ?? []
        guard decoded.count == t.value.count else { throw bad("the \(type.name) codes of \(t.layers.joined(separator: ", ")) do not decode") }
        if let i = decoded.indices.first(where: { decoded[$0].bitPattern != t.value.scalars[$0].bitPattern }) {
            throw bad("the \(type.name) codes of \(t.layers.joined(separator: ", ")) decode to \(decoded[i]) at element \(i), but the weight nanoforge evaluates holds \(t.value.scalars[i])")
        }
        return (type, bytes)
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
            /// The nanoforge layers (names without `.weight`) whose weights this tensor stacks
            /// along rows, in order; their ggml codes, when they hold some, are written as they are.
            var layers: [String] = []
            /// Row r of the tensor is row `rowOrder[r]` of the stacked layers; nil keeps the order.
            var rowOrder: [Int]?
        }
        var architecture: String
        var metadata: [(String, GGUFValue)] = []
        var tensors: [Item] = []
        var notes: [String] = []

        mutating func add(_ name: String, _ value: Tensor, quantizable: Bool = false, layers: [String] = [], rowOrder: [Int]? = nil) {
            tensors.append(Item(name: name, value: value, quantizable: quantizable, layers: layers, rowOrder: rowOrder))
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
    /// Keys and tensors under llama.cpp's names, each quantizable tensor with the layers it comes
    /// from; the tokenizer from `source` (`vocabulary`, `tokenizer`) when the family has one.
    func ggufPlan(_ source: ExportSource, path: String) throws -> GGUFExporter.Plan
}
