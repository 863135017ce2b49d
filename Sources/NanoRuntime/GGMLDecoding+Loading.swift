import Foundation
import NanoCheckpoint
import NanoModels
import NanoQuant
import NanoTensor

extension GGMLDecoding {
    /// A Llama-family GGUF file loaded for the packed runtime alone: the matrices with a block
    /// kernel are computed on the file's blocks and never decoded to Float32, so the process holds
    /// about what llama.cpp holds (the blocks and the Float32 norms) instead of a Float32 copy of
    /// every matrix, and loads without drawing random initial weights. A tied embedding on blocks
    /// also serves the token lookup (`LlamaDecodingProjections.tokenRows`, rows decoded per token).
    ///
    /// The packed matrices' `Linear`s keep a shared all-zero weight of their shape (one per shape):
    /// the model is flagged `requiresDecodingProjections`, so a dense pass over those zeros stops
    /// with a precondition instead of computing nonsense. Matrices of types without a block kernel
    /// (F32, F16, K-quants) are decoded to Float32 as `ModelLoader` would, and named in the report.
    public static func loadModel(file: GGUFFile, kernels: KernelSet = .current) throws -> (model: LlamaModel, report: Report) {
        let spec = try ModelSpec.recognising(file.configSource)
        guard let c = spec.configuration(as: LlamaConfiguration.self) else {
            throw RuntimeError.unsupported(file: file.path, what: spec.architectureName,
                                           reason: "the packed decoder runtime runs Llama-family models only")
        }
        let map = spec.tensorNames(convention: .gguf, storedNames: Set(file.tensors.map(\.name)))
        var zeros: [[Int]: Tensor] = [:]
        var placeholders = Set<ObjectIdentifier>()
        let model = LlamaModel(c, linear: { inFeatures, outFeatures, bias in
            let shape = [outFeatures, inFeatures]
            let weight = zeros[shape] ?? Tensor.zeros(shape)
            zeros[shape] = weight
            let layer = Linear(weight: weight, bias: bias ? Tensor.zeros([outFeatures]) : nil)
            placeholders.insert(ObjectIdentifier(layer))
            return layer
        }, embedding: { vocabulary, _ in
            // Filled from the file below; an empty table until then.
            Embedding(weight: Tensor(shape: [vocabulary, 0], scalars: []))
        })
        let packable: (String) -> Bool = { stored in
            guard let info = file.tensorInfo(stored) else { return false }
            return info.dimensions.count == 2 && GGMLLinear.supports(info.type)
        }
        var placeholderWeights: [String: Linear] = [:]
        for (name, layer) in model.layers(of: Linear.self) where placeholders.contains(ObjectIdentifier(layer)) {
            placeholderWeights[name + ".weight"] = layer
        }
        let embeddingPath = model.layers(of: Embedding.self).first { $0.layer === model.tokenEmbedding }.map { $0.name + ".weight" }
        // A tied head on blocks also serves the token lookup, so the Float32 table is never built.
        let tableOnBlocks = c.tiedEmbeddings && embeddingPath.map { packable(map.stored(forParameter: $0)) } == true
        var undecoded = Set<String>()
        for (path, variable) in model.namedParameters {
            let stored = map.stored(forParameter: path)
            guard let info = file.tensorInfo(stored) else { throw RuntimeError.missingTensor(file: file.path, tensor: stored) }
            if placeholderWeights[path] != nil && packable(stored) { undecoded.insert(path); continue }
            if path == embeddingPath && tableOnBlocks { continue }
            let (_, transform) = map.parameter(forStored: stored)
            let target = path == embeddingPath ? [c.vocabularySize, c.width] : variable.shape
            let expected = transform == .transpose ? Array(target.reversed()) : target
            guard info.shape == expected else {
                throw RuntimeError.shapeMismatch(file: file.path, tensor: stored, expected: expected, found: info.shape)
            }
            let values: Data
            do { values = try file.float32Data(stored) } catch let e as CheckpointError {
                throw RuntimeError.unsupported(file: file.path, what: stored, reason: e.description)
            }
            let scalars = values.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            variable.value = TensorNameMap.apply(transform, to: Tensor(shape: info.shape, scalars: scalars))
        }
        let report = try install(on: model, file: file, kernels: kernels)
        for path in undecoded {
            guard let layer = placeholderWeights[path], model.decodingProjections[layer] != nil else {
                throw RuntimeError.unsupported(file: file.path, what: map.stored(forParameter: path), reason: "a packable matrix got no block kernel")
            }
        }
        if tableOnBlocks {
            guard let head = model.decodingProjections.tiedHead as? GGMLLinear else {
                throw RuntimeError.unsupported(file: file.path, what: embeddingPath.map(map.stored(forParameter:)) ?? "token table",
                                               reason: "the tied embedding got no block kernel")
            }
            model.decodingProjections.tokenRows = { head.rows($0) }
        }
        model.requiresDecodingProjections = true
        return (model, report)
    }
}
