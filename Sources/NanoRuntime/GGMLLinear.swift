import CSIMDIntrinsics
import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// y = x · Wᵀ computed on W's ggml blocks as a GGUF file stores them, the way llama.cpp's CPU
/// backend does: each input row is quantized once to the weight type's input blocks (Q8_0, Q8_1 or
/// Q8_K: `GGMLDotProductInput`), then every output is a sum of integer block dot products times
/// the two blocks' scales (`ggml_dot_kernels.h`). W is never dequantized. Output rows are split
/// over `Parallel.workers` threads; with many input rows (a prompt) each weight row meets every
/// input row while it sits in L1.
///
/// This is the arithmetic `nanoforge eval --llama-cpp-arithmetic` models with Float32 weights
/// (same input codes and scales; Q4_1/Q5_1 additionally use ggml's half-precision block sums).
///
/// On the `avx512-vnni` kernel set, Q4_0, Q4_1 and Q8_0 matrices are held with their rows
/// interleaved in groups of 16 (`nf_ggml_interleave`, done once at construction), which the
/// group kernels read one zmm lane per row; their outputs are the plain loops' bit for bit.
public final class GGMLLinear: RowProjection {
    /// The block type (`GGMLLinear.supports`).
    public let type: GGUFTensorType
    public let outFeatures: Int
    public let inFeatures: Int
    /// The kernel set it runs (`avx512-vnni` uses AVX2 for types without a VNNI kernel: `usesOwnKernel`).
    public let kernels: KernelSet
    /// The rows' blocks: row after row (`rowBytes` each), or interleaved (`interleaved`).
    let blocks: Data
    let rowBytes: Int
    /// Whether `blocks` holds the 16-row interleaved layout that the AVX-512 VNNI group kernels read.
    public let interleaved: Bool
    let inputType: Int32

    /// Whether the runtime has a kernel for `type` (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q6_K).
    public static func supports(_ type: GGUFTensorType) -> Bool { nf_ggml_dot_input_type(Int32(type.rawValue)) >= 0 }

    /// A matrix [rows, columns] from its stored blocks (rows of whole blocks, in file order).
    /// Throws `RuntimeError.unsupported` for a type without a kernel and `shapeMismatch` when the
    /// byte count is not the shape's.
    public init(type: GGUFTensorType, rows: Int, columns: Int, blocks: Data, tensor: String = "weight",
                file: String = "<memory>", kernels: KernelSet = .current) throws {
        guard Self.supports(type) else {
            throw RuntimeError.unsupported(file: file, what: tensor, reason: "no block kernel for \(type.name)")
        }
        guard rows > 0, columns > 0, let bytes = type.byteCount(elements: rows * columns, rowLength: columns),
              bytes == blocks.count else {
            throw RuntimeError.shapeMismatch(file: file, tensor: tensor, expected: [rows, columns],
                                             found: [blocks.count / max(1, type.typeSize) * max(1, type.blockSize) / max(1, columns), columns])
        }
        self.type = type
        self.outFeatures = rows
        self.inFeatures = columns
        self.rowBytes = bytes / rows
        self.inputType = nf_ggml_dot_input_type(Int32(type.rawValue))
        self.kernels = kernels.supported ? kernels : .avx2
        let groupBlockBytes = nf_ggml_interleaved_block_bytes(Int32(type.rawValue))
        interleaved = self.kernels.avx512 && groupBlockBytes > 0
        guard interleaved else { self.blocks = blocks; return }
        var packed = Data(count: (rows + 15) / 16 * (columns / 32) * groupBlockBytes)
        packed.withUnsafeMutableBytes { dst in
            blocks.withUnsafeBytes { src in
                // The type has a layout (checked above) and columns are whole blocks (checked by byteCount).
                _ = nf_ggml_interleave(Int32(type.rawValue), columns, rows, src.baseAddress!, dst.baseAddress!)
            }
        }
        self.blocks = packed
    }

    /// The matrix's blocks in file layout, row after row.
    public var storedBlocks: Data {
        guard interleaved else { return blocks }
        var out = Data(count: outFeatures * rowBytes)
        out.withUnsafeMutableBytes { dst in
            blocks.withUnsafeBytes { src in
                for row in 0..<outFeatures {
                    _ = nf_ggml_deinterleave_row(Int32(type.rawValue), inFeatures, src.baseAddress!, row, dst.baseAddress! + row * rowBytes)
                }
            }
        }
        return out
    }

    /// The C path for a kernel set (the plain loops are `reference`).
    static func path(_ kernels: KernelSet) -> Int32 {
        kernels.avx512 ? Int32(NF_DOT_AVX512VNNI) : Int32(NF_DOT_AVX2)
    }

    /// Whether `kernels` runs a kernel written for it on `type` (false: the AVX2 kernel stands in).
    public static func usesOwnKernel(_ type: GGUFTensorType, kernels: KernelSet) -> Bool {
        nf_ggml_dot_has_path(Int32(type.rawValue), path(kernels)) != 0
    }

    /// The stored rows at `indices` decoded to Float32, [indices.count, inFeatures]: the values
    /// `GGUFBlocks.decode` gives for the whole matrix (the token lookup of a tied embedding).
    public func rows(_ indices: [Int]) -> Tensor {
        var out = [Float](repeating: 0, count: indices.count * inFeatures)
        var restored = [UInt8](repeating: 0, count: rowBytes)
        blocks.withUnsafeBytes { raw in
            for (i, row) in indices.enumerated() {
                precondition(row >= 0 && row < outFeatures, "GGMLLinear.rows: row \(row) outside 0..<\(outFeatures)")
                restored.withUnsafeMutableBytes { buffer in
                    var source = UnsafeRawBufferPointer(rebasing: raw[(row * rowBytes)..<((row + 1) * rowBytes)])
                    if interleaved {
                        _ = nf_ggml_deinterleave_row(Int32(type.rawValue), inFeatures, raw.baseAddress!, row, buffer.baseAddress!)
                        source = UnsafeRawBufferPointer(buffer)
                    }
                    // The type was checked at init (a block kernel exists, so it decodes).
                    let values = GGUFBlocks.decode(source, type: type, count: inFeatures)!
                    out.withUnsafeMutableBufferPointer { (o: inout UnsafeMutableBufferPointer<Float>) in
                        (o.baseAddress! + i * inFeatures).update(from: values, count: inFeatures)
                    }
                }
            }
        }
        return Tensor(shape: [indices.count, inFeatures], scalars: out)
    }

    /// Bytes of one quantized input row.
    var inputRowBytes: Int { nf_ggml_input_row_bytes(inputType, inFeatures) }

    /// x [n, inFeatures] → [n, outFeatures].
    public func project(_ x: Tensor) -> Tensor {
        project(x, reference: false)
    }

    /// `project` through the plain-loop kernels (tests compare the SIMD paths against it).
    public func projectReference(_ x: Tensor) -> Tensor {
        project(x, reference: true)
    }

    func project(_ x: Tensor, reference: Bool) -> Tensor {
        let m = x.count / inFeatures
        precondition(m * inFeatures == x.count && m > 0, "GGMLLinear: input \(x.shape) is not rows of \(inFeatures)")
        let quantized = quantizeInput(x, rows: m)
        var out = [Float](repeating: 0, count: m * outFeatures)
        let group = interleaved && !reference
        let path = reference ? Int32(NF_DOT_REFERENCE) : Self.path(kernels)
        let (n, rows, rowBytes, type, inputBytes) = (inFeatures, outFeatures, rowBytes, Int32(type.rawValue), inputRowBytes)
        // Enough work per thread to pay for handing half to the spinning pool: 64 K weights.
        // Interleaved matrices split at whole groups of 16 rows.
        let unit = group ? 16 : 1, units = (rows + unit - 1) / unit
        let workers = max(1, min(Parallel.workers, rows * n * m / (1 << 16), rows / 8, units))
        let source = reference && interleaved ? storedBlocks : blocks
        source.withUnsafeBytes { w in
            quantized.withUnsafeBytes { y in
                out.withUnsafeMutableBufferPointer { o in
                    let (w, y, o) = (w.baseAddress!, y.baseAddress!, o.baseAddress!)
                    let work = { (worker: Int) in
                        let first = min(rows, units * worker / workers * unit), last = min(rows, units * (worker + 1) / workers * unit)
                        if group {
                            _ = nf_ggml_dot_interleaved(type, n, w, first, last - first, y, inputBytes, m, o + first, rows)
                        } else {
                            _ = nf_ggml_dot_rows(type, path, n, w + first * rowBytes, rowBytes, last - first,
                                                 y, inputBytes, m, o + first, rows)
                        }
                    }
                    Parallel.perform(iterations: workers, work)
                }
            }
        }
        return Tensor(shape: [m, outFeatures], scalars: out)
    }

    /// The input rows as the type's input blocks (ggml's `quantize_row_q8_*_ref`).
    func quantizeInput(_ x: Tensor, rows m: Int) -> [UInt8] {
        let bytes = inputRowBytes
        var q = [UInt8](repeating: 0, count: m * bytes)
        x.scalars.withUnsafeBufferPointer { xs in
            q.withUnsafeMutableBytes { qs in
                for i in 0..<m {
                    nf_ggml_quantize_input_row(inputType, xs.baseAddress! + i * inFeatures, inFeatures, qs.baseAddress! + i * bytes)
                }
            }
        }
        return q
    }

    /// The matrix's rows reordered: row r of the result is stored row `source[r]` (llama.cpp's
    /// Q/K rotary permutation undone on whole rows of blocks, without decoding them).
    public func reorderingRows(_ source: [Int]) -> GGMLLinear {
        precondition(source.count == outFeatures, "GGMLLinear.reorderingRows: \(source.count) rows for \(outFeatures)")
        let stored = storedBlocks
        var data = Data(count: stored.count)
        data.withUnsafeMutableBytes { dst in
            stored.withUnsafeBytes { src in
                for (r, s) in source.enumerated() {
                    (dst.baseAddress! + r * rowBytes).copyMemory(from: src.baseAddress! + s * rowBytes, byteCount: rowBytes)
                }
            }
        }
        // Same type, shape and byte count as self: cannot throw.
        return try! GGMLLinear(type: type, rows: outFeatures, columns: inFeatures, blocks: data, kernels: kernels)
    }
}
