import CSIMDIntrinsics
import Foundation
import NanoModels
import NanoQuant
@testable import NanoRuntime
import NanoTensor
import Testing

/// nanoforge's own int8 / int4 codes under a Llama decoder (`PackedDecoding`):
/// - the in-register dequantizing kernels (`packed_gemv.c`) of every path this CPU has, and the
///   panel path for more than 4 rows, against the dense product of the dequantized weights in
///   Float64: they hold the same weight values, so they differ only by float summation order,
///   bounded by 1e-5 · Σ|w·x| per output;
/// - decoding a tiny Llama whose matrices (and tied head) are packed gives the dense model's
///   logits to float summation order, prompt and single steps alike.
@Suite struct PackedDecodingTests {
    static let schemes: [(QuantizationScheme, columns: Int)] = [
        (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), 72),     // a tail of 8 past 64
        (QuantizationScheme(bits: 8, symmetric: false, granularity: .channel), 50),    // a tail of 2 past 48
        (QuantizationScheme(bits: 8, symmetric: true, granularity: .group(32)), 96),
        (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)), 64),
        (QuantizationScheme(bits: 4, symmetric: false, granularity: .group(128)), 256),
        (QuantizationScheme(bits: 4, symmetric: true, granularity: .channel), 160),
        (QuantizationScheme(bits: 3, symmetric: false, granularity: .group(64)), 128),
    ]

    static func paths() -> [(String, Int32)] {
        var out = [("reference", Int32(NF_GEMV_REFERENCE)), ("avx2", Int32(NF_GEMV_AVX2))]
        if KernelSet.avx512VNNI.supported { out.append(("avx512", Int32(NF_GEMV_AVX512))) }
        return out
    }

    @Test func kernelsComputeTheDequantizedProduct() throws {
        var rng = RandomGenerator(seed: 41)
        for (scheme, columns) in Self.schemes {
            for rows in [1, 37, 130] {
                let q = try RTN.quantize(rng.normal(shape: [rows, columns], std: 0.1), scheme: scheme)
                let w = q.dequantized()
                let projection = PackedRowProjection(PackedWeight(q), kernels: .current)
                for m in [1, 2, 3, 4, 6] {
                    let x = rng.normal(shape: [m, columns], std: 1)
                    for (name, path) in Self.paths() {
                        let y = projection.project(x, path: path).scalars
                        for i in 0..<m {
                            for r in 0..<rows {
                                var exact = 0.0, scale = 0.0
                                for j in 0..<columns {
                                    let p = Double(w.scalars[r * columns + j]) * Double(x.scalars[i * columns + j])
                                    exact += p; scale += abs(p)
                                }
                                #expect(abs(Double(y[i * rows + r]) - exact) <= 1e-5 * scale + 1e-30,
                                        "\(scheme) [\(rows)×\(columns)]·\(m) \(name): output (\(i), \(r)) \(y[i * rows + r]) vs \(exact)")
                            }
                        }
                    }
                }
            }
        }
    }

    @Test func decodingMatchesTheDenseModel() throws {
        for tied in [false, true] {
            var rng = RandomGenerator(seed: tied ? 7 : 8)
            let c = LlamaConfiguration(vocabularySize: 37, width: 64, layers: 2, heads: 4, kvHeads: 2, feedForwardWidth: 96,
                                       contextLength: 40, ropeBase: 5_000, rmsEpsilon: 1e-5, tiedEmbeddings: tied, attentionBias: false)
            let model = LlamaModel(c, rng: &rng)
            var quantized: [String: QuantizedTensor] = [:]
            for (name, layer) in model.layers(of: Linear.self) {
                let scheme = name.contains("mlp") ? QuantizationScheme(bits: 4, symmetric: false, granularity: .group(32))
                    : QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
                let q = try RTN.quantize(rng.normal(shape: layer.weight.shape, std: 0.3), scheme: scheme)
                layer.weight.value = q.dequantized()
                quantized[name] = q
            }
            if tied {
                let q = try RTN.quantize(rng.normal(shape: model.tokenEmbedding.weight.shape, std: 0.5),
                                         scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
                model.tokenEmbedding.weight.value = q.dequantized()
                quantized["model.embed_tokens"] = q
            }
            let tokens = [3, 9, 1, 30, 7, 7, 12, 0]
            func run() -> [[Float]] {
                let cache = LlamaKVCache(for: model, capacity: 16)
                var out = [model.decode(Array(tokens.prefix(6)), cache: cache).scalars]
                for t in tokens.suffix(2) { out.append(model.decode([t], cache: cache).scalars) }
                return out
            }
            let dense = run()
            let report = try PackedDecoding.install(on: model, quantized: quantized, folder: "test")
            #expect(report.packedCount == model.layers(of: Linear.self).count + (tied ? 1 : 0), "\(report)")
            #expect((report.tiedHeadType != nil) == tied)
            let packed = run()
            model.decodingProjections = LlamaDecodingProjections()
            for (d, p) in zip(dense, packed) {
                let largest = d.map(abs).max()!
                let worst = zip(d, p).map { abs($0 - $1) }.max()!
                #expect(worst <= 1e-4 * largest, "tied \(tied): max |Δ| \(worst) of logits up to \(largest)")
            }
        }
    }
}
