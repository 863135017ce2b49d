import Foundation
import NanoCheckpoint
import NanoQuant
@testable import NanoRuntime
import NanoTensor
import Testing

/// The block dot kernels under `GGMLLinear`, on matrices encoded by nanoforge's own ggml encoder
/// (odd row counts, one block per row up to several, several input rows):
/// - each SIMD path this CPU has against the plain loops (ggml's `ggml_vec_dot_*_generic`): the
///   integer block sums are exact in both, so they differ only by the order of the float additions
///   of the per-block terms, bounded by 1e-5 · Σ|wᵢ·x̃ᵢ|;
/// - the plain loops against what `eval --llama-cpp-arithmetic` models (the dequantized weight
///   times the input rounded by `GGMLDotProductInput`), within the same bound, plus, for Q4_1 and
///   Q5_1, ggml's half-precision block sums s = d·Σq (≤ 2⁻¹¹·max|w_b|·Σ|x̃_b| per block b);
/// - the input codes the runtime writes decode to exactly `GGMLDotProductInput.round`'s values.
/// A path this CPU lacks is a skipped test, named with its reason.
@Suite struct GGMLLinearTests {
    static let types: [GGUFTensorType] = [.q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .iq4_nl, .q4_K, .q6_K]
    /// (rows, blocks per row, input rows): odd rows, a single block, input rows in fours (the
    /// four-row kernels) with tails, and enough work for two threads.
    static let shapes = [(1, 1, 1), (37, 3, 3), (9, 1, 2), (130, 7, 1), (64, 2, 5), (33, 2, 9), (256, 9, 8)]

    static func case_(_ type: GGUFTensorType, rows: Int, blocks: Int, m: Int, seed: UInt64) throws -> (GGMLQuantizedTensor, Tensor) {
        var rng = RandomGenerator(seed: seed)
        let columns = blocks * type.blockSize
        var w = rng.normal(shape: [rows, columns], std: 0.05)
        if rows > 2 { for j in 0..<columns { w.scalars[columns + j] = 0 } }            // an all-zero row
        var x = rng.normal(shape: [m, columns], std: 1.5)
        for j in 0..<min(columns, 32) { x.scalars[j] = 0 }                              // an all-zero input block
        if m > 1 { x.scalars[columns + 5] = -30 }                                      // a negative extreme
        return (try GGMLQuantizedTensor.roundToNearest(w, as: type), x)
    }

    /// Σ|w·x̃| per output (the float bound's scale) and, for Q4_1/Q5_1, the half-precision block-sum allowance.
    static func bounds(_ q: GGMLQuantizedTensor, _ rounded: Tensor) -> [Float] {
        let w = q.dequantized(), (rows, columns) = (q.rows, q.columns), m = rounded.count / columns
        let halfSums = q.type == .q4_1 || q.type == .q5_1
        var out = [Float](repeating: 0, count: m * rows)
        for i in 0..<m {
            for r in 0..<rows {
                var scale: Float = 0, extra: Float = 0
                for b in 0..<(columns / 32) {
                    var wmax: Float = 0, xsum: Float = 0
                    for j in (b * 32)..<((b + 1) * 32) {
                        let (wv, xv) = (w.scalars[r * columns + j], rounded.scalars[i * columns + j])
                        scale += abs(wv * xv)
                        wmax = max(wmax, abs(wv)); xsum += abs(xv)
                    }
                    if halfSums { extra += wmax * xsum / 2048 }
                }
                out[i * rows + r] = 1e-5 * scale + extra + 1e-30
            }
        }
        return out
    }

    static func check(_ kernels: KernelSet) throws {
        var seed: UInt64 = 11
        for type in types {
            for (rows, blocks, m) in shapes {
                seed += 1
                let (q, x) = try case_(type, rows: rows, blocks: blocks, m: m, seed: seed)
                let layer = try GGMLLinear(type: type, rows: rows, columns: q.columns, blocks: q.blocks, kernels: kernels)
                let fast = layer.project(x).scalars, reference = layer.projectReference(x).scalars
                let rounded = GGMLDotProductInput.of(weight: type)!.round(x)
                let modelled = Tensor.linear(rounded, weight: q.dequantized(), bias: nil).scalars
                let bound = bounds(q, rounded)
                for k in 0..<fast.count {
                    #expect(abs(fast[k] - reference[k]) <= bound[k],
                            "\(type.name) \(kernels.name) [\(rows)×\(q.columns)]·\(m): output \(k): \(fast[k]) vs reference \(reference[k])")
                    #expect(abs(reference[k] - modelled[k]) <= 2 * bound[k],
                            "\(type.name) [\(rows)×\(q.columns)]·\(m): output \(k): blocks \(reference[k]) vs modelled \(modelled[k])")
                }
            }
        }
    }

    @Test func avx2PathMatchesThePlainLoops() throws { try Self.check(.avx2) }

    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 VNNI path skipped: this CPU lacks AVX-512 F/BW/VL + VNNI"))
    func avx512VNNIPathMatchesThePlainLoops() throws { try Self.check(.avx512VNNI) }

    @Test(.enabled(if: KernelSet.avxVNNI.supported, "AVX-VNNI set skipped: this CPU lacks AVX-VNNI"))
    func avxVNNISetMatchesThePlainLoops() throws { try Self.check(.avxVNNI) }

    /// On AVX-512 VNNI, Q4_0, Q4_1 and Q8_0 are held interleaved in groups of 16 rows: the stored
    /// blocks come back byte for byte, `rows` decodes as the file's rows do, and the group kernels
    /// give the plain loops' outputs bit for bit (they repeat the reference's float operations per
    /// output), on row counts with partial last groups and input rows in fours with tails.
    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 VNNI path skipped: this CPU lacks AVX-512 F/BW/VL + VNNI"))
    func interleavedGroupsGiveThePlainLoopsBits() throws {
        var seed: UInt64 = 500
        for type in [GGUFTensorType.q4_0, .q4_1, .q8_0] {
            for (rows, blocks, m) in Self.shapes + [(16, 1, 4), (47, 4, 6), (200, 18, 1)] {
                seed += 1
                let (q, x) = try Self.case_(type, rows: rows, blocks: blocks, m: m, seed: seed)
                let layer = try GGMLLinear(type: type, rows: rows, columns: q.columns, blocks: q.blocks, kernels: .avx512VNNI)
                #expect(layer.interleaved)
                #expect(layer.storedBlocks == q.blocks, "\(type.name) [\(rows)×\(q.columns)]: blocks restored")
                let picked = [rows - 1, 0, rows / 2]
                #expect(layer.rows(picked).scalars == Tensor.gatherRows(q.dequantized(), picked).scalars, "\(type.name): rows decoded")
                let fast = layer.project(x).scalars, reference = layer.projectReference(x).scalars
                let differing = zip(fast, reference).filter { $0.0.bitPattern != $0.1.bitPattern }.count
                #expect(differing == 0, "\(type.name) [\(rows)×\(q.columns)]·\(m): \(differing) of \(fast.count) outputs differ from the plain loops")
            }
        }
        let q8 = try Self.case_(.q8_0, rows: 20, blocks: 2, m: 1, seed: 1).0
        #expect(try !GGMLLinear(type: .q8_0, rows: 20, columns: q8.columns, blocks: q8.blocks, kernels: .avx2).interleaved)
    }

    /// Which types have a kernel of their own per path (the others run the next path down).
    /// A prompt's rows (the 2×4 and four-row tiles, VNNI's 16×4 groups) give each row's outputs bit for bit as
    /// that row alone does (the one-row and 4×1 kernels): a token's logits do not depend on
    /// whether it was decoded in a prompt or by itself, on every kernel set this CPU has.
    @Test func rowsComputeAsAlone() throws {
        var seed: UInt64 = 900
        for kernels in KernelSet.available {
            for type in Self.types {
                for (rows, blocks, m) in [(37, 3, 9), (256, 9, 8), (6, 2, 5)] {
                    seed += 1
                    let (q, x) = try Self.case_(type, rows: rows, blocks: blocks, m: m, seed: seed)
                    let layer = try GGMLLinear(type: type, rows: rows, columns: q.columns, blocks: q.blocks, kernels: kernels)
                    let together = layer.project(x).scalars
                    for i in 0..<m {
                        let alone = layer.project(x.slice(axis: 0, range: i..<(i + 1))).scalars
                        #expect(Array(together[(i * rows)..<((i + 1) * rows)]) == alone, "\(type.name) \(kernels.name) [\(rows)×\(q.columns)]: row \(i) of \(m)")
                    }
                }
            }
        }
    }

    @Test func kernelCoverage() {
        for type in Self.types { #expect(GGMLLinear.usesOwnKernel(type, kernels: .avx2) == ![.q5_0, .q5_1].contains(type), "\(type.name)") }
        for type in [GGUFTensorType.q4_0, .q4_1, .q8_0, .iq4_nl] { #expect(GGMLLinear.usesOwnKernel(type, kernels: .avx512VNNI)) }
        #expect(!GGMLLinear.supports(.f16) && !GGMLLinear.supports(.q2_K) && !GGMLLinear.supports(.f32))
    }

    /// The runtime's input blocks hold ggml's reference codes: decoded, `GGMLDotProductInput.round`'s values exactly.
    @Test func inputCodesAreGGMLsReferenceQuantizers() throws {
        var rng = RandomGenerator(seed: 3)
        var x = rng.normal(shape: [2, 512], std: 2)
        for j in 0..<32 { x.scalars[j] = 0 }
        x.scalars[700] = -40
        for (type, rounding) in [(GGUFTensorType.q4_0, GGMLDotProductInput.q8_0), (.q4_1, .q8_0), (.q6_K, .q8_K)] {
            let layer = try GGMLLinear(type: type, rows: 1, columns: 512, blocks: Data(count: type.typeSize * 512 / type.blockSize))
            let bytes = layer.quantizeInput(x, rows: 2)
            var decoded = [Float]()
            bytes.withUnsafeBytes { raw in
                if rounding == .q8_K {
                    for b in 0..<4 {
                        let base = b * 292, d = raw.loadUnaligned(fromByteOffset: base, as: Float.self)
                        for j in 0..<256 { decoded.append(d * Float(raw.load(fromByteOffset: base + 4 + j, as: Int8.self))) }
                    }
                } else {
                    let size = type == .q4_1 ? 36 : 34, offset = type == .q4_1 ? 4 : 2
                    for b in 0..<32 {
                        let d = HalfPrecision.float(fromFloat16: raw.loadUnaligned(fromByteOffset: b * size, as: UInt16.self))
                        for j in 0..<32 { decoded.append(d * Float(raw.load(fromByteOffset: b * size + offset + j, as: Int8.self))) }
                    }
                }
            }
            #expect(decoded == rounding.round(x).scalars, "\(type.name)")   // equal values (a zero may differ in sign)
        }
    }

    /// A type without a kernel, and bytes that are not the shape's, are refused naming the tensor.
    @Test func refusesTypesWithoutKernelsAndWrongSizes() {
        #expect(throws: RuntimeError.self) { try GGMLLinear(type: .f16, rows: 2, columns: 32, blocks: Data(count: 128), tensor: "t") }
        do {
            _ = try GGMLLinear(type: .q4_0, rows: 2, columns: 32, blocks: Data(count: 35), tensor: "blk.0.attn_q.weight", file: "f.gguf")
            Issue.record("accepted 35 bytes for two Q4_0 rows")
        } catch let e as RuntimeError {
            #expect(e.description.contains("blk.0.attn_q.weight") && e.description.contains("f.gguf"))
        } catch { Issue.record("\(error)") }
    }
}
