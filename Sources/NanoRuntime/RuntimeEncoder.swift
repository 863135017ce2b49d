import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// A BERT sentence encoder on packed weights: embeddings (gathered from the memory-mapped table),
/// post-norm blocks whose Linear layers run `RuntimeLinear`, fp32 attention, mean pooling and L2
/// normalisation, computing what `SentenceEncoder` computes on the dequantized model.
public final class RuntimeEncoder: @unchecked Sendable {
    public struct Block: Sendable {
        /// query, key and value hold no integer GEMM when `qkv` computes them.
        public let query, key, value: RuntimeLinear
        /// Query, key and value fused (`RuntimeLinear.concatenated`) for the integer kernels.
        public let qkv: RuntimeLinear?
        public let output, up, down: RuntimeLinear
        public let attentionNorm, outputNorm: (gamma: Tensor, beta: Tensor)
        public let heads: Int
    }

    public let configuration: BertEncoder.Configuration
    public let tokenizer: WordPieceTokenizer
    public let maxLength: Int
    let wordEmbeddings: EmbeddingTable
    /// [maxPositions, width] and row 0 of the token types, added together once at load.
    let positionPlusType: [Float]
    let embeddingNorm: (gamma: Tensor, beta: Tensor)
    public let blocks: [Block]
    public var kernel: RuntimeKernel = .standard
    public let profile = RuntimeProfile()
    /// Seconds from the call to `load` to a ready model.
    public internal(set) var loadSeconds: Double = 0

    init(configuration: BertEncoder.Configuration, tokenizer: WordPieceTokenizer, maxLength: Int, wordEmbeddings: EmbeddingTable,
         positionPlusType: [Float], embeddingNorm: (gamma: Tensor, beta: Tensor), blocks: [Block]) {
        self.configuration = configuration; self.tokenizer = tokenizer
        self.maxLength = min(maxLength, configuration.maxPositions)
        self.wordEmbeddings = wordEmbeddings; self.positionPlusType = positionPlusType
        self.embeddingNorm = embeddingNorm; self.blocks = blocks
    }

    public var width: Int { configuration.width }

    /// L2-normalised sentence embeddings [B, width] of token id rows (padded to the longest).
    public func embeddings(tokenIds: [[Int]]) -> Tensor {
        let b = tokenIds.count, t = tokenIds.map(\.count).max() ?? 0, d = width
        guard b > 0, t > 0 else { return Tensor.zeros([b, d]) }
        let lengths = tokenIds.map(\.count)
        var x = profile.measure("embeddings") { () -> Tensor in
            var h = [Float](repeating: 0, count: b * t * d)
            for (row, ids) in tokenIds.enumerated() {
                for position in 0..<t {
                    let id = position < ids.count ? ids[position] : tokenizer.paddingId
                    let dst = row * t * d + position * d
                    wordEmbeddings.row(id, into: &h, at: dst)
                    for j in 0..<d { h[dst + j] += positionPlusType[position * d + j] }
                }
            }
            return Tensor(shape: [b * t, d], scalars: h)
        }
        let eps = configuration.layerNormEpsilon
        x = profile.measure("layernorm") { x.layerNorm(gamma: embeddingNorm.gamma, beta: embeddingNorm.beta, epsilon: eps) }
        for block in blocks {
            let context: Tensor
            if let qkv = block.qkv {
                let y = linear(qkv, x)
                context = profile.measure("attention") { RuntimeAttention.context(qkv: y, batch: b, length: t, heads: block.heads, lengths: lengths) }
            } else {
                let q = linear(block.query, x), k = linear(block.key, x), v = linear(block.value, x)
                context = profile.measure("attention") {
                    RuntimeAttention.context(q: q, k: k, v: v, batch: b, length: t, heads: block.heads, lengths: lengths)
                }
            }
            let attended = linear(block.output, context)
            let h = profile.measure("layernorm") {
                x.addingLayerNorm(attended, gamma: block.attentionNorm.gamma, beta: block.attentionNorm.beta, epsilon: eps)
            }
            let activated = upActivated(block.up, h)
            let down = linear(block.down, activated)
            x = profile.measure("layernorm") {
                h.addingLayerNorm(down, gamma: block.outputNorm.gamma, beta: block.outputNorm.beta, epsilon: eps)
            }
        }
        return profile.measure("pooling") { Self.meanPooledNormalized(x, lengths: lengths, length: t, width: d) }
    }

    func linear(_ layer: RuntimeLinear, _ x: Tensor) -> Tensor {
        profile.measure(linearKind(layer)) { layer(x, kernel: kernel) }
    }

    /// The profile's name for a Linear layer's kernel ("linear int8 s8s8", …).
    func linearKind(_ layer: RuntimeLinear) -> String {
        switch layer.weight {
        case .dense: return "linear fp32"
        case .packed(let w, let integer):
            let bits = w.storage == .int8 ? "int8" : "int4"
            let gemm = integer.map { $0 is U8S8GEMM ? "u8s8" : "s8s8" } ?? "dequant"
            return "linear \(bits) " + (kernel != .dequant ? gemm : "dequant")
        }
    }

    /// The feed-forward's up-projection and its activation: GELU (erf) fused into the integer
    /// GEMM where the kernel can (`RuntimeLinear.fusedGELU`, profiled as "linear … + gelu"), else
    /// the Linear layer, then the activation.
    func upActivated(_ layer: RuntimeLinear, _ x: Tensor) -> Tensor {
        if configuration.activation == .gelu, layer.fusesGELU(kernel),
           let fused = profile.measure(linearKind(layer) + " + gelu", { layer.fusedGELU(x, kernel: kernel) }) {
            return fused
        }
        let up = linear(layer, x)
        return profile.measure("gelu") { activation(up) }
    }

    func activation(_ x: Tensor) -> Tensor {
        switch configuration.activation {
        case .gelu: return x.gelu(approximation: .erf)
        case .geluTanh: return x.gelu(approximation: .tanh)
        case .relu: return x.relu()
        case .silu: return x.silu()
        case .tanh: return x.tanh()
        }
    }

    /// Mean over each sentence's tokens, then x / max(‖x‖, 1e-12), as `SentencePooling`.
    static func meanPooledNormalized(_ x: Tensor, lengths: [Int], length t: Int, width d: Int) -> Tensor {
        var out = [Float](repeating: 0, count: lengths.count * d)
        for (b, n) in lengths.enumerated() {
            for position in 0..<n {
                for j in 0..<d { out[b * d + j] += x.scalars[(b * t + position) * d + j] }
            }
            let count = Float(max(n, 1))
            var norm: Float = 0
            for j in 0..<d { out[b * d + j] /= count; norm += out[b * d + j] * out[b * d + j] }
            let inverse = 1 / max(norm.squareRoot(), 1e-12)
            for j in 0..<d { out[b * d + j] *= inverse }
        }
        return Tensor(shape: [lengths.count, d], scalars: out)
    }

    /// Embeddings of many sentences [N, width], in input order, batched by length as
    /// `SentenceEncoder.encode` batches them.
    public func encode(_ sentences: [String], batchSize: Int = 32, progress: ((Int, Int) -> Void)? = nil) -> Tensor {
        let tokens = sentences.map { tokenizer.encode($0, maxLength: maxLength) }
        return SentenceEncoder.encodeSorted(tokens, width: width, batchSize: batchSize, progress: progress) { embeddings(tokenIds: $0) }
    }
}

/// The word-embedding table read in place from the checkpoint's (memory-mapped) bytes, or kept
/// packed when the table was quantized (`targets: [Embedding]`): a row is converted when
/// gathered, so loading never expands the table.
struct EmbeddingTable: @unchecked Sendable {
    enum Storage { case stored(StoredTensor), packed(PackedWeight) }
    let storage: Storage
    let rows: Int, width: Int

    func row(_ id: Int, into out: inout [Float], at offset: Int) {
        let id = min(max(id, 0), rows - 1)
        switch storage {
        case .packed(let weight):
            out.withUnsafeMutableBufferPointer { DequantKernels.dequantize(weight, rows: id, count: 1, into: $0.baseAddress! + offset) }
        case .stored(let tensor):
            tensor.data.withUnsafeBytes { raw in
                out.withUnsafeMutableBufferPointer { dst in
                    switch tensor.dtype {
                    case .f32:
                        for j in 0..<width { dst[offset + j] = raw.loadUnaligned(fromByteOffset: (id * width + j) * 4, as: Float.self) }
                    case .f16:
                        for j in 0..<width {
                            dst[offset + j] = HalfPrecision.float(fromFloat16: raw.loadUnaligned(fromByteOffset: (id * width + j) * 2, as: UInt16.self))
                        }
                    default:
                        preconditionFailure("EmbeddingTable: dtype \(tensor.dtype) was rejected at load")
                    }
                }
            }
        }
    }

    /// Every row as fp32, [rows · width]: for the small tables (positions, token types).
    func dense() -> [Float] {
        var out = [Float](repeating: 0, count: rows * width)
        for r in 0..<rows { row(r, into: &out, at: r * width) }
        return out
    }
}

extension RuntimeEncoder: SentenceEmbedding {}
