import CSIMDIntrinsics
import Foundation
import NanoTensor

/// The micro-kernels that run `U8S8GEMM`'s (and, through it, `Int8GEMM`'s) integer products.
/// The VNNI kernels are C functions with per-function target attributes (CSIMDIntrinsics,
/// vnni_kernels.c), called only where `KernelSet` found the CPU feature. `vpdpbusd` adds four
/// u8 × s8 products straight into each Int32 lane without the Int16 stage, so it cannot saturate
/// (unlike `vpmaddubsw`) and the sums are the same exact Int32 values as the AVX2 kernel's.
enum VNNIMicroKernel: Sendable, CaseIterable {
    /// AVX2 `vpmaddubsw` + `vpmaddwd` (Swift, `U8S8GEMM.microKernel`), 4 rows × 16 columns.
    case avx2
    /// AVX-512 VNNI, 8 rows × 32 columns on zmm (`nf_u8s8_8x32_avx512vnni`).
    case vnni512
    /// AVX-VNNI, 4 rows × 16 columns on ymm (`nf_u8s8_4x16_avxvnni`).
    case vnni256
    /// The AVX-VNNI kernel's arithmetic in the EVEX encoding (AVX-512 VL), so that machines with
    /// AVX-512 but without AVX-VNNI (Zen 4) test that path's blocking too. Never chosen by a set.
    case vnni256EVEX

    init(_ kernels: KernelSet) {
        switch kernels.supported ? kernels : .avx2 {
        case .avx2: self = .avx2
        case .avx512VNNI: self = .vnni512
        case .avxVNNI: self = .vnni256
        }
    }

    /// The set whose CPU features this kernel needs.
    var kernelSet: KernelSet {
        switch self {
        case .avx2: return .avx2
        case .vnni512, .vnni256EVEX: return .avx512VNNI
        case .vnni256: return .avxVNNI
        }
    }

    var supported: Bool { kernelSet.supported }
    /// Rows and 16-column blocks per call.
    var tileRows: Int { self == .vnni512 ? 8 : 4 }
    var tileBlocks: Int { self == .vnni512 ? 2 : 1 }
}

extension U8S8GEMM {
    /// out [m, rows] = the dequantized products of `a` + bias. With the AVX-512 VNNI kernel each
    /// worker is one C call (`nf_u8s8_gemm_avx512vnni`) that applies FloatTile's epilogue to the
    /// accumulators in registers; the other kernels go through `products` and `FloatTile`. The
    /// same Int32 sums and the same float operations either way.
    ///
    /// `geluErf` (AVX-512 VNNI only; returns false, having applied nothing, for other kernels):
    /// each worker then runs its rows in L2-sized chunks and applies GELU (erf form,
    /// `nf_gelu_erf_avx512`, the tensor core's AVX-512 loop: the same bits as `Tensor.gelu`) to
    /// its columns of each chunk while they are still in cache, instead of a separate pass.
    @discardableResult
    func floatProducts(_ a: Activations, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, geluErf: Bool = false) -> Bool {
        if geluErf && microKernel != .vnni512 { return false }
        guard microKernel == .vnni512 else {
            scales.withUnsafeBufferPointer { sw in
                a.scales.withUnsafeBufferPointer { sa in
                    products(a, m: m, FloatTile(out: out, n: rows, activationScales: sa.baseAddress!, weightScales: sw.baseAddress!, bias: bias))
                }
            }
            return true
        }
        guard m > 0, rows > 0 else { return true }
        let (blocks, quads, n) = (blocks, quads, rows)
        let workers = max(1, min(Parallel.workers, blocks, m * blocks / 16))
        // Rows per chunk: 8-row tiles whose codes (quads · 16 bytes per 4 rows) stay within 64 KB of L2.
        let chunk = max(1, 64 * 1024 / max(quads * 32, 1)) * 8
        a.codes.withUnsafeBufferPointer { qa in
            a.zeroPoints.withUnsafeBufferPointer { za in
                a.scales.withUnsafeBufferPointer { sa in
                    weights.withUnsafeBufferPointer { qw in
                        columnSums.withUnsafeBufferPointer { sums in
                            scales.withUnsafeBufferPointer { sw in
                                let (qa, za, sa, qw, sums, sw) = (qa.baseAddress!, za.baseAddress!, sa.baseAddress!, qw.baseAddress!,
                                                                  sums.baseAddress!, sw.baseAddress!)
                                let work = { (worker: Int) in
                                    let (first, last) = (blocks * worker / workers, blocks * (worker + 1) / workers)
                                    guard geluErf else {
                                        nf_u8s8_gemm_avx512vnni(qa, m, quads, qw, first, last, sums, za, sa, sw, bias, out, n, chunk)
                                        return
                                    }
                                    let (c0, c1) = (first * Self.blockColumns, min(n, last * Self.blockColumns))
                                    var r0 = 0
                                    while r0 < m {  // r0 a multiple of 8: whole 4-row code blocks
                                        let count = min(chunk, m - r0)
                                        nf_u8s8_gemm_avx512vnni(qa + (r0 / Self.blockRows) * quads * 16, count, quads, qw, first, last, sums, za + r0,
                                                                sa + r0, sw, bias, out + r0 * n, n, chunk)
                                        if c1 > c0 {
                                            for i in r0..<(r0 + count) { nf_gelu_erf_avx512(out + i * n + c0, out + i * n + c0, c1 - c0) }
                                        }
                                        r0 += count
                                    }
                                }
                                if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
                            }
                        }
                    }
                }
            }
        }
        return true
    }

    /// One worker's column blocks with a VNNI micro-kernel: tiles of `tileRows` rows × `tileBlocks`
    /// blocks, rows in chunks whose codes stay in L2, each tile's Int32 sums zero-point corrected
    /// and handed to `tile` in 8-column halves (as `columnBlocks`). At the edges a tile repeats its
    /// last row block or column block; those sums are not stored.
    @inline(never)
    static func vnniColumnBlocks<Store: TileStore>(_ range: Range<Int>, a: UnsafeRawPointer, zeroPoints: UnsafePointer<Int32>, m: Int,
                                                   w qw: UnsafeRawPointer, columnSums: UnsafePointer<Int32>, quads: Int,
                                                   _ kernel: VNNIMicroKernel, _ tile: Store) {
        let (br, bc, blockBytes, weightBytes) = (blockRows, blockColumns, quads * 16, quads * blockColumns * 4)
        let (tileRows, tileBlocks) = (kernel.tileRows, kernel.tileBlocks)
        let chunk = max(1, 64 * 1024 / max(blockBytes * tileRows / br, 1)) * tileRows
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 256) { buffer in
            let out = buffer.baseAddress!
            for rowStart in stride(from: 0, to: m, by: chunk) {
                let rowEnd = min(m, rowStart + chunk)
                var b = range.lowerBound
                while b < range.upperBound {
                    let nb = min(tileBlocks, range.upperBound - b)
                    let w0 = (qw + b * weightBytes).assumingMemoryBound(to: Int8.self)
                    let w1 = nb > 1 ? w0 + weightBytes : w0
                    var i = rowStart
                    while i < rowEnd {
                        let count = min(tileRows, rowEnd - i)
                        let a0 = (a + (i / br) * blockBytes).assumingMemoryBound(to: UInt8.self)
                        switch kernel {
                        case .vnni512:
                            nf_u8s8_8x32_avx512vnni(a0, count > br ? a0 + blockBytes : a0, w0, w1, quads, out)
                        case .vnni256:
                            nf_u8s8_4x16_avxvnni(a0, w0, quads, out)
                        case .vnni256EVEX:
                            nf_u8s8_4x16_avx512vl(a0, w0, quads, out)
                        case .avx2:
                            preconditionFailure("the AVX2 kernel runs in columnBlocks")
                        }
                        let outStride = tileBlocks * bc
                        for r in 0..<count {
                            let z = SIMD8<Int32>(repeating: zeroPoints[i + r])
                            for h in 0..<(2 * nb) {
                                let column = b * bc + 8 * h
                                let sums = UnsafeRawPointer(out + r * outStride + 8 * h).loadUnaligned(as: SIMD8<Int32>.self)
                                let s = UnsafeRawPointer(columnSums + column).loadUnaligned(as: SIMD8<Int32>.self)
                                // Σ (qa − z) · w = Σ qa · w − z · Σ w (wrapping: the true result fits Int32).
                                tile.store(i + r, column, sums &- z &* s)
                            }
                        }
                        i += tileRows
                    }
                    b += nb
                }
            }
        }
    }

    /// Signed int8 codes qa [m, ld] (Int16, the first `columns` used) as this GEMM's activations with
    /// the +128 offset: codes qa + 128 ∈ [1, 255] (u8) and zero point 128, so the corrected sums
    /// Σ (qa + 128 − 128) · w are exactly Σ qa · w. Only for VNNI kernels: `vpdpbusd` takes 8-bit
    /// unsigned codes without saturating, `vpmaddubsw` would not.
    func offsetActivations(_ qa: UnsafePointer<Int16>, ld: Int, m: Int, scales: [Float]) -> Activations {
        let br = Self.blockRows, rowBlocks = (m + br - 1) / br, blockBytes = quads * 16
        let columns = columns
        // Padding (rows past m, k past columns) holds code 128 (value 0); it meets zero weights or is never stored.
        var codes = [UInt8](repeating: 128, count: rowBlocks * blockBytes)
        codes.withUnsafeMutableBytes { dst in
            let dst = dst.baseAddress!
            for i in 0..<m {
                let row = qa + i * ld, out = dst + (i / br) * blockBytes + (i % br) * 4
                let full = columns / 4
                for q in 0..<full {
                    let v = UnsafeRawPointer(row + 4 * q).loadUnaligned(as: SIMD4<Int16>.self) &+ 128
                    out.storeBytes(of: unsafeBitCast(SIMD4<UInt8>(truncatingIfNeeded: v), to: UInt32.self), toByteOffset: q * 16, as: UInt32.self)
                }
                for c in (4 * full)..<columns {
                    out.storeBytes(of: UInt8(truncatingIfNeeded: row[c] &+ 128), toByteOffset: (c / 4) * 16 + c % 4, as: UInt8.self)
                }
            }
        }
        return Activations(codes: codes, scales: scales, zeroPoints: [Int32](repeating: 128, count: m))
    }
}
