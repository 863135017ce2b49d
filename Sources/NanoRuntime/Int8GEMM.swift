import CSIMDIntrinsics
import Foundation
import NanoQuant
import NanoTensor

/// int8 × int8 → int32 GEMM with dynamic per-token activation quantization, for symmetric
/// per-channel (or per-tensor) int8 weights:
///   out[i, r] = a_i · s_r · Σ_k qa[i, k] · qw[r, k] + bias[r],
/// where each input row i is quantized on the fly to the symmetric int8 grid with its own scale
/// a_i = absmax / 127 (`QuantizationNumerics.parameters` / `quantize`), and s_r is the weight
/// row's scale.
///
/// A register-blocked micro-kernel, no horizontal reductions: weights are packed once at load as
/// Int16 pairs interleaved for `blockColumns` (16) output features — for each block and each k-pair,
/// 16 × (w[r, k], w[r, k+1]) = two 256-bit vectors. Activation codes are Int16 with K padded to
/// even; the kernel broadcasts one 32-bit pair (a[i, k], a[i, k+1]) of each of `blockRows` (4)
/// input rows into all lanes and multiply-adds it against the two weight vectors with AVX2's
/// `vpmaddwd` (`madd`), keeping 4 × 2 `SIMD8<Int32>` accumulators in registers. |127·127·2| per
/// pair and K ≤ 2¹⁷ keep every Int32 sum exact.
public struct Int8GEMM: IntegerGEMM {
    public static let kStep = 2
    static let blockColumns = 16, blockRows = 4
    public let rows: Int
    public let columns: Int
    /// K rounded up to `kStep` (whole Int16 pairs).
    public let paddedColumns: Int
    /// [blocks, paddedColumns / 2, blockColumns, 2]: block b, pair p, column j, half t holds
    /// w[b·16 + j, 2p + t]; zero past `rows` and `columns`.
    let weights: [Int16]
    /// [blocks · blockColumns], zero past `rows`.
    let scales: [Float]
    /// With a VNNI kernel set: the same weight in `U8S8GEMM`'s byte layout, whose `vpdpbusd`
    /// kernels take these codes + 128 as u8 with zero point 128 (`U8S8GEMM.offsetActivations`):
    /// the same exact Int32 sums. `weights` is then empty.
    let vnni: U8S8GEMM?

    var blocks: Int { (rows + Self.blockColumns - 1) / Self.blockColumns }
    var pairs: Int { paddedColumns / 2 }

    /// nil when `w` is not symmetric one-scale-per-row int8 (the dequantizing path handles those).
    /// `kernels` picks the micro-kernel: `vpdpbusd` (AVX-512 VNNI, AVX-VNNI) or AVX2's `vpmaddwd`;
    /// a set the CPU lacks runs the AVX2 one.
    public init?(_ w: PackedWeight, kernels: KernelSet = .current) {
        self.init(w, microKernel: VNNIMicroKernel(kernels))
    }

    init?(_ w: PackedWeight, microKernel: VNNIMicroKernel) {
        guard w.storage == .int8, w.signed, w.offsets == nil, w.groupSize == w.columns else { return nil }
        rows = w.rows; columns = w.columns
        paddedColumns = (w.columns + Self.kStep - 1) / Self.kStep * Self.kStep
        if microKernel != .avx2, microKernel.supported, let vnni = U8S8GEMM(w, microKernel: microKernel) {
            self.vnni = vnni
            weights = []
            scales = vnni.scales
            return
        }
        vnni = nil
        let (rows, columns, bc) = (rows, columns, Self.blockColumns)
        let blocks = (rows + bc - 1) / bc, pairs = paddedColumns / 2
        var packed = [Int16](repeating: 0, count: blocks * pairs * bc * 2)
        packed.withUnsafeMutableBufferPointer { dst in
            w.codes.withUnsafeBufferPointer { src in
                for r in 0..<rows {
                    let out = dst.baseAddress! + (r / bc) * pairs * bc * 2 + (r % bc) * 2, row = src.baseAddress! + r * columns
                    for c in 0..<columns { out[(c >> 1) * bc * 2 + (c & 1)] = Int16(Int8(bitPattern: row[c])) }
                }
            }
        }
        weights = packed
        scales = w.scales + [Float](repeating: 0, count: blocks * bc - rows)
    }

    /// Quantizes each row of x [m, columns] to int8 codes (widened to Int16, zero-padded to
    /// `paddedColumns`) with its own symmetric scale.
    public func quantizeActivations(_ x: UnsafePointer<Float>, m: Int) -> (codes: [Int16], scales: [Float]) {
        var codes = [Int16](repeating: 0, count: m * paddedColumns)
        var scales = [Float](repeating: 1, count: m)
        let (lo, hi) = (Float(QuantizationNumerics.qmin(bits: 8, symmetric: true)), Float(QuantizationNumerics.qmax(bits: 8, symmetric: true)))
        let columns = columns
        codes.withUnsafeMutableBufferPointer { q in
            for i in 0..<m {
                let row = UnsafeRawPointer(x + i * columns)
                let scale = Self.rowScale(x + i * columns, columns: columns)
                scales[i] = scale
                // Same grid and rounding as QuantizationNumerics.quantize, by a reciprocal multiply.
                let inverse = 1 / scale
                let dst = q.baseAddress! + i * paddedColumns
                var c = 0
                while c + 8 <= columns {
                    // Clamping to the integer bounds before rounding gives the same codes; adding
                    // 1.5·2²³ rounds to nearest-even and leaves the code in the low mantissa bits
                    // (stdlib SIMD float → int conversions are lane-by-lane calls).
                    var v = row.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<Float>.self) * inverse
                    v.replace(with: SIMD8(repeating: lo), where: v .< lo)
                    v.replace(with: SIMD8(repeating: hi), where: v .> hi)
                    let bits = unsafeBitCast(v + 12_582_912, to: SIMD8<Int32>.self) &- 0x4B40_0000
                    UnsafeMutableRawPointer(dst + c).storeBytes(of: SIMD8<Int16>(truncatingIfNeeded: bits), as: SIMD8<Int16>.self)
                    c += 8
                }
                while c < columns {
                    let v = (x[i * columns + c] * inverse).rounded(.toNearestOrEven)
                    dst[c] = Int16(min(max(v, lo), hi))
                    c += 1
                }
            }
        }
        return (codes, scales)
    }

    /// out [m, rows] = dequantized integer products + bias.
    public func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        if let vnni {
            vnni.floatProducts(quantizeOffsetActivations(x, m: m, for: vnni), m: m, bias: bias, out: out)
            return
        }
        let (qa, sa) = quantizeActivations(x, m: m)
        scales.withUnsafeBufferPointer { sw in
            sa.withUnsafeBufferPointer { sa in
                products(qa, m: m, FloatTile(out: out, n: rows, activationScales: sa.baseAddress!,
                                             weightScales: sw.baseAddress!, bias: bias))
            }
        }
    }

    public var fusesGELU: Bool { vnni?.microKernel == .vnni512 }

    /// On AVX-512 VNNI: quantize, products, epilogue and GELU per cache-resident chunk (`U8S8GEMM.floatProducts`).
    public func forwardGELU(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) -> Bool {
        guard let vnni, vnni.microKernel == .vnni512 else { return false }
        return vnni.floatProducts(quantizeOffsetActivations(x, m: m, for: vnni), m: m, bias: bias, out: out, geluErf: true)
    }

    /// The exact Int32 sums Σ_k qa[i, k] · qw[r, k], [m, rows] (the kernel's integer result, for tests).
    func integerProducts(_ qa: [Int16], m: Int) -> [Int32] {
        if let vnni {
            let a = qa.withUnsafeBufferPointer { vnni.offsetActivations($0.baseAddress!, ld: paddedColumns, m: m, scales: []) }
            return vnni.integerProducts(a, m: m)
        }
        var out = [Int32](repeating: 0, count: m * rows)
        out.withUnsafeMutableBufferPointer { out in products(qa, m: m, Int32Tile(out: out.baseAddress!, n: rows)) }
        return out
    }

    /// Runs the micro-kernel over all (4-row, 16-column) tiles of qa [m, paddedColumns] × weightsᵀ
    /// and hands each 8-column half to `tile.store(row, firstColumn, sums)` (columns past `rows`
    /// are the zero padding; rows past m are never stored). Column blocks are split over
    /// `Parallel.workers`.
    func products<Store: TileStore>(_ qa: [Int16], m: Int, _ tile: Store) {
        guard m > 0, rows > 0 else { return }
        let (blocks, pairs) = (blocks, pairs)
        let workers = max(1, min(Parallel.workers, blocks, m * blocks / 16))
        qa.withUnsafeBytes { qa in
            weights.withUnsafeBytes { qw in
                let a = qa.baseAddress!.assumingMemoryBound(to: Int32.self), w = qw.baseAddress!
                let work = { (worker: Int) in
                    Self.columnBlocks(blocks * worker / workers..<blocks * (worker + 1) / workers, a: a, m: m, w: w, pairs: pairs, tile)
                }
                if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
            }
        }
    }

    /// One worker's column blocks, rows in chunks whose codes stay in L2. A function of its own,
    /// not part of the worker closure: inside that closure LLVM did not inline the intrinsic.
    @inline(never)
    static func columnBlocks<Store: TileStore>(_ range: Range<Int>, a: UnsafePointer<Int32>, m: Int, w qw: UnsafeRawPointer,
                                               pairs: Int, _ tile: Store) {
        let (br, bc, ld) = (blockRows, blockColumns, pairs)
        let chunk = max(br, (64 * 1024 / max(4 * pairs, 1)) / br * br)
        for rowStart in stride(from: 0, to: m, by: chunk) {
            let rowEnd = min(m, rowStart + chunk)
            for b in range {
                let w = qw + b * pairs * bc * 4
                var i = rowStart
                while i < rowEnd {
                    let count = min(br, rowEnd - i)
                    // Rows past the end repeat row i; their sums are not stored.
                    let a0 = a + i * ld, a1 = count > 1 ? a0 + ld : a0
                    let a2 = count > 2 ? a0 + 2 * ld : a0, a3 = count > 3 ? a0 + 3 * ld : a0
                    let c = microKernel(a0, a1, a2, a3, w, pairs: pairs)
                    let column = b * bc
                    tile.store(i, column, c.0); tile.store(i, column + 8, c.1)
                    if count > 1 { tile.store(i + 1, column, c.2); tile.store(i + 1, column + 8, c.3) }
                    if count > 2 { tile.store(i + 2, column, c.4); tile.store(i + 2, column + 8, c.5) }
                    if count > 3 { tile.store(i + 3, column, c.6); tile.store(i + 3, column + 8, c.7) }
                    i += br
                }
            }
        }
    }

    /// 4 rows × 16 columns: per k-pair, two weight vectors and four broadcast activation pairs,
    /// eight `vpmaddwd` + `vpaddd` into the accumulators (row r, half h) = c[2r + h].
    @inline(__always)
    static func microKernel(_ a0: UnsafePointer<Int32>, _ a1: UnsafePointer<Int32>, _ a2: UnsafePointer<Int32>,
                            _ a3: UnsafePointer<Int32>, _ w: UnsafeRawPointer, pairs: Int)
        -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
        var c00 = SIMD8<Int32>(), c01 = SIMD8<Int32>(), c10 = SIMD8<Int32>(), c11 = SIMD8<Int32>()
        var c20 = SIMD8<Int32>(), c21 = SIMD8<Int32>(), c30 = SIMD8<Int32>(), c31 = SIMD8<Int32>()
        var wp = w
        for p in 0..<pairs {
            let w0 = wp.loadUnaligned(as: SIMD4<Int64>.self)
            let w1 = wp.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int64>.self)
            let b0 = broadcast(a0[p]), b1 = broadcast(a1[p]), b2 = broadcast(a2[p]), b3 = broadcast(a3[p])
            c00 &+= madd(b0, w0); c01 &+= madd(b0, w1)
            c10 &+= madd(b1, w0); c11 &+= madd(b1, w1)
            c20 &+= madd(b2, w0); c21 &+= madd(b2, w1)
            c30 &+= madd(b3, w0); c31 &+= madd(b3, w1)
            wp += 64
        }
        return (c00, c01, c10, c11, c20, c21, c30, c31)
    }

    /// Float(v) lane by lane, correctly rounded, inlined (stdlib's `SIMD8<Float>(_: SIMD8<Int32>)`
    /// is an out-of-line call): the high and low 16 bits are each exact by the 1.5·2²³ / 2²³
    /// mantissa tricks, and the one rounding is the final add.
    @inline(__always)
    static func float(_ v: SIMD8<Int32>) -> SIMD8<Float> {
        let hi = unsafeBitCast((v &>> 16) &+ 0x4B40_0000, to: SIMD8<Float>.self) - 12_582_912
        let lo = unsafeBitCast((v & 0xFFFF) | 0x4B00_0000, to: SIMD8<Float>.self) - 8_388_608
        return hi * 65536 + lo
    }

    /// The symmetric 8-bit scale of one activation row (its absmax / 127, as
    /// `QuantizationNumerics.parameters`): shared by every per-token quantizer of this GEMM.
    @inline(__always)
    static func rowScale(_ row: UnsafePointer<Float>, columns: Int) -> Float {
        let raw = UnsafeRawPointer(row)
        var m8 = SIMD8<Float>()
        var c = 0
        while c + 8 <= columns {
            let v = magnitude(raw.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<Float>.self))
            m8.replace(with: v, where: v .> m8)
            c += 8
        }
        var absmax = m8.max()
        while c < columns { absmax = max(absmax, abs(row[c])); c += 1 }
        return QuantizationNumerics.parameters(min: -absmax, max: absmax, bits: 8, symmetric: true).scale
    }

    @inline(__always)
    static func magnitude(_ v: SIMD8<Float>) -> SIMD8<Float> {
        unsafeBitCast(unsafeBitCast(v, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: SIMD8<Float>.self)
    }

    /// One Int16 pair (as its Int32 bit pattern) in all eight 32-bit lanes.
    @inline(__always)
    static func broadcast(_ pair: Int32) -> SIMD4<Int64> {
        unsafeBitCast(SIMD8<Int32>(repeating: pair), to: SIMD4<Int64>.self)
    }

    /// 16 Int16 × 16 Int16 products, adjacent pairs summed into 8 Int32: `vpmaddwd`, through the
    /// one-line C wrapper (CSIMDIntrinsics) because no Swift SIMD expression lowers to it.
    @inline(__always)
    static func madd(_ a: SIMD4<Int64>, _ b: SIMD4<Int64>) -> SIMD8<Int32> {
        #if arch(x86_64)
        return unsafeBitCast(nf_madd_epi16(a, b), to: SIMD8<Int32>.self)
        #else
        let p = SIMD16<Int32>(truncatingIfNeeded: unsafeBitCast(a, to: SIMD16<Int16>.self))
            &* SIMD16<Int32>(truncatingIfNeeded: unsafeBitCast(b, to: SIMD16<Int16>.self))
        return p.evenHalf &+ p.oddHalf
        #endif
    }
}

/// Where `Int8GEMM.products` writes an 8-column half-tile of Int32 sums (row i, first column c;
/// c may be past the last output feature, in the padding).
protocol TileStore {
    func store(_ i: Int, _ c: Int, _ sums: SIMD8<Int32>)
}

/// out[i, c] = Float(sum) · a_i · s_c + bias[c].
struct FloatTile: TileStore {
    let out: UnsafeMutablePointer<Float>
    let n: Int
    let activationScales: UnsafePointer<Float>
    /// Padded to whole 16-column blocks.
    let weightScales: UnsafePointer<Float>
    let bias: UnsafePointer<Float>?

    @inline(__always)
    func store(_ i: Int, _ c: Int, _ sums: SIMD8<Int32>) {
        let s = SIMD8<Float>(repeating: activationScales[i]) * UnsafeRawPointer(weightScales + c).loadUnaligned(as: SIMD8<Float>.self)
        let y = Int8GEMM.float(sums) * s
        if c + 8 <= n {
            let b = bias.map { UnsafeRawPointer($0 + c).loadUnaligned(as: SIMD8<Float>.self) } ?? SIMD8()
            UnsafeMutableRawPointer(out + i * n + c).storeBytes(of: y + b, as: SIMD8<Float>.self)
        } else if c < n {
            for j in 0..<(n - c) { out[i * n + c + j] = y[j] + (bias?[c + j] ?? 0) }
        }
    }
}

/// out[i, c] = sum (tests).
struct Int32Tile: TileStore {
    let out: UnsafeMutablePointer<Int32>
    let n: Int

    @inline(__always)
    func store(_ i: Int, _ c: Int, _ sums: SIMD8<Int32>) {
        for j in 0..<max(0, min(8, n - c)) { out[i * n + c + j] = sums[j] }
    }
}
