import CSIMDIntrinsics
import NanoModels
import NanoQuant
import NanoTensor

/// Puts nanoforge's own packed matrices (int8 or int4 codes with per-channel or per-group
/// scales: `QuantizedTensor`, the `quantize` pass's output without a ggml type) under a loaded
/// `LlamaModel`'s KV-cache decoding, as `GGMLDecoding` does for ggml blocks. Each projection is
/// `PackedLinear`: panels of the codes dequantized into L2-sized Float32 scratch and multiplied
/// by sgemm, so activations stay Float32, as the recipe's weight-only scheme means, and the outputs
/// are the dense path's up to float summation order. A whole matrix is never dequantized.
///
/// Installed only where the fused decoding path applies (`fusedDecodingApplies`): layers with
/// activation quantization (static or dynamic `activations`) run their own forwards, which apply
/// it, on the model's Float32 weights.
public enum PackedDecoding {
    /// Installs a projection for every Linear (and a tied head's embedding table) in `quantized`,
    /// keyed by layer path; `folder` names the source in errors. Throws `RuntimeError.shapeMismatch`
    /// when a matrix is not its layer's shape.
    @discardableResult
    public static func install(on model: LlamaModel, quantized: [String: QuantizedTensor], folder: String,
                               kernels: KernelSet = .current) throws -> GGMLDecoding.Report {
        var report = GGMLDecoding.Report(kernels: kernels.supported ? kernels : .avx2, source: "nanoforge codes, dequantize-on-the-fly")
        guard model.fusedDecodingApplies else { return report }
        var projections = LlamaDecodingProjections()
        func packed(_ layer: String, _ q: QuantizedTensor, expected: [Int]) throws -> PackedRowProjection {
            guard q.shape == expected else { throw RuntimeError.shapeMismatch(file: folder, tensor: layer, expected: expected, found: q.shape) }
            let weight = PackedWeight(q)
            report.packed[Self.name(weight), default: 0] += 1
            return PackedRowProjection(weight, kernels: kernels)
        }
        for (name, linear) in model.layers(of: Linear.self) {
            guard let q = quantized[name], q.shape.count == 2 else { continue }
            projections[linear] = try packed(name, q, expected: [linear.outFeatures, linear.inFeatures])
        }
        if model.head == nil, let name = model.layers(of: Embedding.self).first(where: { $0.layer === model.tokenEmbedding })?.name,
           let q = quantized[name] {
            let weight = try packed(name, q, expected: model.tokenEmbedding.weight.value.shape)
            projections.tiedHead = weight
            report.tiedHeadType = Self.name(weight.weight)
        }
        model.decodingProjections = projections
        return report
    }

    /// "int8 per channel", "int4 group 128": the layout's name in reports.
    static func name(_ w: PackedWeight) -> String {
        (w.storage == .int8 ? "int8" : "int4") + (w.groupSize == w.columns ? " per channel" : " group \(w.groupSize)")
    }
}

/// One packed matrix as a decoding projection: `PackedLinear` on its codes.
final class PackedRowProjection: RowProjection {
    let weight: PackedWeight
    let kernels: KernelSet
    var inFeatures: Int { weight.columns }
    var outFeatures: Int { weight.rows }

    init(_ weight: PackedWeight, kernels: KernelSet) {
        self.weight = weight
        self.kernels = kernels
    }

    func project(_ x: Tensor) -> Tensor {
        project(x, path: kernels.avx512 ? Int32(NF_GEMV_AVX512) : Int32(NF_GEMV_AVX2))
    }

    /// Up to 4 rows (decoding): the in-register dequantizing kernel of `path` (`packed_gemv.h`),
    /// weight rows split over the workers; more rows (a prompt): `PackedLinear`'s panels + sgemm.
    func project(_ x: Tensor, path: Int32) -> Tensor {
        let m = x.count / inFeatures
        precondition(m * inFeatures == x.count && m > 0, "PackedRowProjection: input \(x.shape) is not rows of \(inFeatures)")
        var out = [Float](repeating: 0, count: m * outFeatures)
        let w = weight
        x.scalars.withUnsafeBufferPointer { xs in
            out.withUnsafeMutableBufferPointer { o in
                let (xs, o) = (xs.baseAddress!, o.baseAddress!)
                guard m <= 4 else {
                    PackedLinear.forward(xs, m: m, weight: w, bias: nil, out: o, kernels: kernels)
                    return
                }
                let rows = w.rows, groups = w.groupsPerRow, rowBytes = w.bytesPerRow
                // Enough work per thread to pay for handing half to the spinning pool: 64 K weights.
                let workers = max(1, min(Parallel.workers, rows * w.columns * m / (1 << 16), rows / 8))
                let bits: Int32 = w.storage == .int8 ? 8 : 4, signed: Int32 = w.signed ? 1 : 0
                // No offsets (symmetric codes): an empty array, passed to C as a null pointer.
                let offsetValues = w.offsets ?? []
                w.codes.withUnsafeBufferPointer { codes in
                    w.scales.withUnsafeBufferPointer { scales in
                        offsetValues.withUnsafeBufferPointer { offsets in
                            Parallel.perform(iterations: workers) { worker in
                                let first = rows * worker / workers, last = rows * (worker + 1) / workers
                                let rowCodes: UnsafePointer<UInt8> = codes.baseAddress! + first * rowBytes
                                let rowScales: UnsafePointer<Float> = scales.baseAddress! + first * groups
                                let rowOffsets: UnsafePointer<Float>? = offsets.isEmpty ? nil : offsets.baseAddress! + first * groups
                                _ = nf_packed_gemv(path, bits, signed, rowCodes, rowBytes, rowScales, rowOffsets,
                                                   groups, w.groupSize, last - first, w.columns, xs, m, o + first, rows)
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: [m, outFeatures], scalars: out)
    }
}
