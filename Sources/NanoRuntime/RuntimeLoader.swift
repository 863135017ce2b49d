import Foundation
import NanoCheckpoint
import NanoQuant
import NanoModels
import NanoTensor

extension RuntimeEncoder {
    /// Whether the model at `path` (folder or weights file) stores packed layers: the test
    /// `embed` and `eval` use to pick the runtime. Reads only the header (safetensors is mapped).
    public static func holdsPackedLayers(path: String) -> Bool {
        guard let (weights, _) = try? ModelLoader.locateWeights(path),
              let store = try? CheckpointReader.read(path: weights) else { return false }
        return store.metadata[PackedLayer.metadataKey] != nil
    }

    /// Loads a packed (or plain) BERT sentence encoder for the runtime: the checkpoint is read
    /// (memory-mapped for safetensors), each packed layer decoded by `PackedCheckpoint` and laid
    /// out for the kernels (`PackedWeight`); no weight matrix is ever expanded to fp32 as a whole.
    /// Unquantized Linear layers stay dense fp32. Each packed layer's GEMM follows its stored
    /// scheme unless `kernel` says otherwise (`RuntimeKernel`). Errors name the file and tensor.
    /// The first load sets the process's C heap to keep freed buffers (`RuntimeHeap`).
    public static func load(path: String, maxLength: Int = 256, kernel: RuntimeKernel = .standard) throws -> RuntimeEncoder {
        let start = ContinuousClock.now
        _ = RuntimeHeap.retainsFreedBuffers
        let (weights, configPath) = try ModelLoader.locateWeights(path)
        let store = try CheckpointReader.read(path: weights)
        guard let c = try ModelLoader.spec(of: store, configPath: configPath).configuration(as: BertEncoder.Configuration.self) else {
            throw RuntimeError.unsupported(file: weights, what: "architecture", reason: "the runtime runs BERT sentence encoders")
        }
        let prefix = store["embeddings.word_embeddings.weight"] == nil && store["bert.embeddings.word_embeddings.weight"] != nil ? "bert." : ""
        let (_, quantized) = try PackedCheckpoint.quantizedLayers(in: store)
        let activations = try ActivationMetadata.decode(store)
        let file = store.source

        func stored(_ name: String, _ shape: [Int]) throws -> StoredTensor {
            guard let t = store[prefix + name] else { throw RuntimeError.missingTensor(file: file, tensor: prefix + name) }
            guard t.shape == shape else { throw RuntimeError.shapeMismatch(file: file, tensor: prefix + name, expected: shape, found: t.shape) }
            return t
        }
        func dense(_ name: String, _ shape: [Int]) throws -> Tensor { try stored(name, shape).floatTensor() }
        func norm(_ name: String) throws -> (gamma: Tensor, beta: Tensor) {
            (try dense(name + ".weight", [c.width]), try dense(name + ".bias", [c.width]))
        }
        /// The layer without its integer GEMM (`with(kernel)` attaches it).
        func linear(_ name: String, out: Int, in inFeatures: Int) throws -> RuntimeLinear {
            let weight: RuntimeLinear.Weight
            if let q = quantized[prefix + name] {
                guard q.shape == [out, inFeatures] else {
                    throw RuntimeError.shapeMismatch(file: file, tensor: prefix + name + ".weight.qweight", expected: [out, inFeatures], found: q.shape)
                }
                let packed = PackedWeight(q)
                weight = .packed(packed, nil)
            } else {
                weight = .dense(try dense(name + ".weight", [out, inFeatures]))
            }
            let bias = store[prefix + name + ".bias"] == nil ? nil : try dense(name + ".bias", [out]).scalars
            return RuntimeLinear(name: name, weight: weight, bias: bias, input: activations[prefix + name])
        }

        /// An embedding table, packed when the recipe quantized it, else the stored F32/F16 tensor.
        func table(_ name: String, rows: Int) throws -> EmbeddingTable {
            if let q = quantized[prefix + name] {
                guard q.shape == [rows, c.width] else {
                    throw RuntimeError.shapeMismatch(file: file, tensor: prefix + name + ".weight.qweight", expected: [rows, c.width], found: q.shape)
                }
                return EmbeddingTable(storage: .packed(PackedWeight(q)), rows: rows, width: c.width)
            }
            let t = try stored(name + ".weight", [rows, c.width])
            guard t.dtype == .f32 || t.dtype == .f16 else {
                throw RuntimeError.unsupported(file: file, what: prefix + name + ".weight", reason: "dtype \(t.dtype.rawValue); F32 or F16 expected")
            }
            return EmbeddingTable(storage: .stored(t), rows: rows, width: c.width)
        }
        let words = try table("embeddings.word_embeddings", rows: c.vocabularySize)
        let positions = try table("embeddings.position_embeddings", rows: c.maxPositions).dense()
        let types = try table("embeddings.token_type_embeddings", rows: c.typeVocabularySize).dense()
        var positionPlusType = positions
        for i in positionPlusType.indices { positionPlusType[i] += types[i % c.width] }

        var blocks: [Block] = []
        for i in 0..<c.layers {
            let p = "encoder.layer.\(i)."
            let heads = c.heads(ofLayer: i), headWidth = heads * (c.width / c.heads), hidden = c.intermediateWidth(ofLayer: i)
            var query = try linear(p + "attention.self.query", out: headWidth, in: c.width)
            var key = try linear(p + "attention.self.key", out: headWidth, in: c.width)
            var value = try linear(p + "attention.self.value", out: headWidth, in: c.width)
            // Query, key and value as one integer GEMM when they can be; else each with its own.
            let qkv = kernel == .dequant ? nil : RuntimeLinear.concatenated([query, key, value], name: p + "attention.self.qkv", kernel: kernel)
            if qkv == nil { (query, key, value) = (query.with(kernel), key.with(kernel), value.with(kernel)) }
            blocks.append(Block(
                query: query, key: key, value: value, qkv: qkv,
                output: try linear(p + "attention.output.dense", out: c.width, in: headWidth).with(kernel),
                up: try linear(p + "intermediate.dense", out: hidden, in: c.width).with(kernel),
                down: try linear(p + "output.dense", out: c.width, in: hidden).with(kernel),
                attentionNorm: try norm(p + "attention.output.LayerNorm"), outputNorm: try norm(p + "output.LayerNorm"),
                heads: heads))
        }
        let tokenizer = try SentenceEncoder.tokenizer(beside: path, vocabularySize: c.vocabularySize)
        let encoder = RuntimeEncoder(configuration: c, tokenizer: tokenizer, maxLength: maxLength,
                                     wordEmbeddings: words,
                                     positionPlusType: positionPlusType, embeddingNorm: try norm("embeddings.LayerNorm"), blocks: blocks)
        encoder.kernel = kernel
        encoder.loadSeconds = RuntimeProfile.seconds(ContinuousClock.now - start)
        return encoder
    }
}
