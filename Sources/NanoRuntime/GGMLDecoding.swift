import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

/// Puts a GGUF file's quantized matrices under a loaded `LlamaModel`'s KV-cache decoding: each
/// Linear (and a tied head's embedding table) whose stored type has a block kernel gets a
/// `GGMLLinear` on the file's own bytes (`LlamaModel.decodingProjections`); matrices of other
/// types (F32, F16, the K-quants without a kernel) keep the model's Float32 weights and are named
/// in the report. `generate` and `bench llm-runtime` run this; `--engine dense` skips it.
public enum GGMLDecoding {
    /// What was installed: packed matrices by type, and the matrices left on Float32 rows.
    public struct Report: Sendable, Equatable, CustomStringConvertible {
        /// Packed matrices per ggml type name ("Q4_1": 210).
        public var packed: [String: Int] = [:]
        /// Whether the tied head runs on the embedding's blocks (nil: the model has its own head).
        public var tiedHeadType: String?
        /// Matrices left on Float32 rows: stored name and type.
        public var dense: [(tensor: String, type: String)] = []
        public var kernels: KernelSet
        /// What the packed matrices are: ggml blocks, or nanoforge's own codes (`PackedDecoding`).
        public var source = "ggml blocks"

        public static func == (a: Report, b: Report) -> Bool {
            a.packed == b.packed && a.tiedHeadType == b.tiedHeadType && a.kernels == b.kernels && a.source == b.source
                && a.dense.map(\.tensor) == b.dense.map(\.tensor) && a.dense.map(\.type) == b.dense.map(\.type)
        }

        public var packedCount: Int { packed.values.reduce(0, +) }

        public var description: String {
            let types = packed.keys.sorted().map { "\($0): \(packed[$0]!)" }.joined(separator: ", ")
            var s = "packed \(source) (kernel set \(kernels.name)): \(types.isEmpty ? "none" : types)"
            if let tiedHeadType { s += " (tied head on the \(tiedHeadType) embedding)" }
            if !dense.isEmpty {
                let byType = Dictionary(grouping: dense, by: \.type).map { "\($0.key): \($0.value.count)" }.sorted()
                s += "; Float32 rows: \(byType.joined(separator: ", ")) (no block kernel)"
            }
            return s
        }
    }

    /// Installs the packed projections of `file` (the GGUF `model` was loaded from) on `model`.
    /// Throws `RuntimeError.shapeMismatch` when a stored matrix is not its Linear's shape (the model
    /// was pruned or trimmed after loading), `.unsupported` for a file nanoforge cannot name.
    @discardableResult
    public static func install(on model: LlamaModel, file: GGUFFile, kernels: KernelSet = .current) throws -> Report {
        let spec = try ModelSpec.recognising(file.configSource)
        let map = spec.tensorNames(convention: .gguf, storedNames: Set(file.tensors.map(\.name)))
        let linears = Dictionary(model.layers(of: Linear.self).map { ($0.name + ".weight", $0.layer) }, uniquingKeysWith: { a, _ in a })
        var report = Report(kernels: kernels.supported ? kernels : .avx2)
        var projections = LlamaDecodingProjections()
        for info in file.tensors where !map.isIgnored(info.name) && info.dimensions.count == 2 {
            let (path, transform) = map.parameter(forStored: info.name)
            guard let linear = linears[path] else { continue }
            guard GGMLLinear.supports(info.type) else { report.dense.append((info.name, info.type.name)); continue }
            var packed = try matrix(info, in: file, expected: [linear.outFeatures, linear.inFeatures], kernels: kernels)
            if case .unpermuteRotaryRows(let heads) = transform { packed = packed.reorderingRows(unpermutedRowSources(packed.outFeatures, heads: heads)) }
            projections[linear] = packed
            report.packed[info.type.name, default: 0] += 1
        }
        if model.head == nil, let name = model.layers(of: Embedding.self).first(where: { $0.layer === model.tokenEmbedding })?.name,
           let info = file.tensorInfo(map.stored(forParameter: name + ".weight")) {
            let table = [model.configuration.vocabularySize, model.configuration.width]
            if GGMLLinear.supports(info.type) {
                projections.tiedHead = try matrix(info, in: file, expected: table, kernels: kernels)
                report.packed[info.type.name, default: 0] += 1
                report.tiedHeadType = info.type.name
            } else {
                report.dense.append((info.name, info.type.name))
            }
        }
        model.decodingProjections = projections
        return report
    }

    /// Installs the packed projections of a compressed output folder's ggml codes (`PackedModel.
    /// ggmlQuantized`, by layer path, rows in the model's order) on `model`; `folder` names it in errors.
    @discardableResult
    public static func install(on model: LlamaModel, codes: [String: GGMLQuantizedTensor], folder: String,
                               kernels: KernelSet = .current) throws -> Report {
        var report = Report(kernels: kernels.supported ? kernels : .avx2)
        var projections = LlamaDecodingProjections()
        func packed(_ layer: String, _ q: GGMLQuantizedTensor, expected: [Int]) throws -> GGMLLinear? {
            guard GGMLLinear.supports(q.type) else { report.dense.append((layer, q.type.name)); return nil }
            guard q.shape == expected else {
                throw RuntimeError.shapeMismatch(file: folder, tensor: layer, expected: expected, found: q.shape)
            }
            report.packed[q.type.name, default: 0] += 1
            return try GGMLLinear(type: q.type, rows: q.rows, columns: q.columns, blocks: q.blocks, tensor: layer, file: folder, kernels: kernels)
        }
        for (name, linear) in model.layers(of: Linear.self) {
            guard let q = codes[name] else { continue }
            projections[linear] = try packed(name, q, expected: [linear.outFeatures, linear.inFeatures])
        }
        if model.head == nil, let name = model.layers(of: Embedding.self).first(where: { $0.layer === model.tokenEmbedding })?.name,
           let q = codes[name], let tied = try packed(name, q, expected: model.tokenEmbedding.weight.value.shape) {
            projections.tiedHead = tied
            report.tiedHeadType = q.type.name
        }
        model.decodingProjections = projections
        return report
    }

    /// Whether `file` holds a matrix the runtime can compute on packed (a quick check for `auto`).
    public static func holdsPackedMatrices(_ file: GGUFFile) -> Bool {
        file.tensors.contains { $0.dimensions.count == 2 && GGMLLinear.supports($0.type) }
    }

    static func matrix(_ info: GGUFTensorInfo, in file: GGUFFile, expected: [Int], kernels: KernelSet) throws -> GGMLLinear {
        guard info.shape == expected else {
            throw RuntimeError.shapeMismatch(file: file.path, tensor: info.name, expected: expected, found: info.shape)
        }
        let linear = try GGMLLinear(type: info.type, rows: info.shape[0], columns: info.shape[1], blocks: file.rawData(info),
                                    tensor: info.name, file: file.path, kernels: kernels)
        // An interleaved matrix is a copy: the file's pages it was read from need not stay resident.
        if linear.interleaved { file.releaseResidentPages(info) }
        return linear
    }

    /// For each row of the model's order, the stored row it comes from: loading's own
    /// `TensorNameMap.unpermuteRotaryRows` applied to the row indices.
    static func unpermutedRowSources(_ rows: Int, heads: Int) -> [Int] {
        let indices = Tensor(shape: [rows, 1], scalars: (0..<rows).map(Float.init))
        return TensorNameMap.unpermuteRotaryRows(indices, heads: heads).scalars.map { Int($0) }
    }
}
