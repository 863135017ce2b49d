import CSIMDIntrinsics
import Foundation
import NanoQuant
import NanoTensor

/// u8 × s8 → int32 GEMM (AVX2 `vpmaddubsw`) with dynamic per-token *asymmetric 7-bit* activations,
/// for symmetric per-channel (or per-tensor) int8 weights:
///   out[i, r] = a_i · s_r · Σ_k (qa[i, k] − z_i) · qw[r, k] + bias[r]
///             = a_i · s_r · (Σ_k qa[i, k] · qw[r, k] − z_i · Σ_k qw[r, k]) + bias[r],
/// where each input row i is quantized on the fly to codes [0, 127] with its own scale a_i and zero
/// point z_i (`QuantizationNumerics.parameters(bits: 7, symmetric: false)`), s_r is the weight
/// row's scale and the column sums Σ_k qw[r, k] are computed once at load.
///
/// Why 7 bits: `vpmaddubsw` multiplies 32 u8 × s8 byte pairs and adds adjacent products into Int16
/// *with saturation*. With activations ≤ 127 and weight codes in [−128, 127] a pair sum is at most
/// 2 · 127 · 128 = 32,512 < 32,767 in magnitude, so it never saturates and every sum is exact
/// (8-bit activations would reach 2 · 255 · 127 = 64,770 and saturate silently). A `vpmaddwd`
/// against ones then adds adjacent Int16 into Int32: per 32-bit lane, 4 consecutive k.
///
/// Layouts, built so the micro-kernel reads both operands with plain loads:
/// - weights, at load: [blocks, quads, 16 columns, 4 k] bytes, K zero-padded to a multiple of 4;
///   per (block, quad) two 256-bit vectors (columns 0…7 and 8…15).
/// - activations, quantized and packed in one pass per forward (`quantizeActivations`):
///   [row blocks, quads, 4 rows, 4 k], so the kernel's four broadcasts read one 16-byte line.
/// The micro-kernel keeps 4 rows × 16 columns = 8 `SIMD8<Int32>` accumulators in registers; per
/// quad: two weight loads, four `vpbroadcastd`, eight `vpmaddubsw` + `vpmaddwd` + `vpaddd`.
/// Where the `KernelSet` has VNNI, the same layouts run on `vpdpbusd` micro-kernels instead
/// (U8S8GEMM+VNNI.swift), with the same Int32 sums.
public struct U8S8GEMM: IntegerGEMM {
    public static let kStep = 4
    static let blockColumns = 16, blockRows = 4
    /// |Σ_k (qa − z) · w| ≤ 127 · 128 · K stays below 2³¹ up to K = 2¹⁷.
    static let maxColumns = 1 << 17
    public let rows: Int
    public let columns: Int
    /// K rounded up to `kStep` (whole quads).
    public let paddedColumns: Int
    /// [blocks, quads, blockColumns, 4]: block b, quad q, column j, byte t holds w[b·16 + j, 4q + t];
    /// zero past `rows` and `columns`.
    let weights: [Int8]
    /// Σ_k w[r, k], [blocks · blockColumns], zero past `rows`.
    let columnSums: [Int32]
    /// [blocks · blockColumns], zero past `rows`.
    let scales: [Float]
    /// Which micro-kernel runs the products (`KernelSet`; `vnni256EVEX` only in tests).
    let microKernel: VNNIMicroKernel

    var blocks: Int { (rows + Self.blockColumns - 1) / Self.blockColumns }
    var quads: Int { paddedColumns / Self.kStep }

    /// nil when `w` is not symmetric one-scale-per-row int8 (the dequantizing path handles those).
    /// `kernels` picks the micro-kernel (`vpdpbusd` on AVX-512 VNNI or AVX-VNNI, else AVX2's
    /// `vpmaddubsw`); a set the CPU lacks runs the AVX2 one. Every kernel computes the same Int32 sums.
    public init?(_ w: PackedWeight, kernels: KernelSet = .current) {
        self.init(w, microKernel: VNNIMicroKernel(kernels))
    }

    init?(_ w: PackedWeight, microKernel: VNNIMicroKernel) {
        guard w.storage == .int8, w.signed, w.offsets == nil, w.groupSize == w.columns, w.columns <= Self.maxColumns else { return nil }
        self.microKernel = microKernel.supported ? microKernel : .avx2
        rows = w.rows; columns = w.columns
        paddedColumns = (w.columns + Self.kStep - 1) / Self.kStep * Self.kStep
        let (rows, columns, bc) = (rows, columns, Self.blockColumns)
        let blocks = (rows + bc - 1) / bc, quads = paddedColumns / Self.kStep, full = columns / Self.kStep
        var packed = [Int8](repeating: 0, count: blocks * quads * bc * 4)
        var sums = [Int32](repeating: 0, count: blocks * bc)
        packed.withUnsafeMutableBytes { dst in
            w.codes.withUnsafeBytes { src in
                for r in 0..<rows {
                    let out = dst.baseAddress! + (r / bc) * quads * bc * 4 + (r % bc) * 4, row = src.baseAddress! + r * columns
                    for q in 0..<full {
                        out.storeBytes(of: row.loadUnaligned(fromByteOffset: 4 * q, as: UInt32.self), toByteOffset: q * bc * 4, as: UInt32.self)
                    }
                    for c in (4 * full)..<columns { out.storeBytes(of: row.load(fromByteOffset: c, as: UInt8.self), toByteOffset: full * bc * 4 + c - 4 * full, as: UInt8.self) }
                    var s: Int32 = 0
                    for c in 0..<columns { s &+= Int32(row.load(fromByteOffset: c, as: Int8.self)) }
                    sums[r] = s
                }
            }
        }
        weights = packed
        columnSums = sums
        scales = w.scales + [Float](repeating: 0, count: blocks * bc - rows)
    }

    /// Each row's 7-bit codes in the micro-kernel's layout, with its scale and zero point.
    struct Activations {
        /// [row blocks, quads, blockRows, 4]: row block b, quad q, row t, byte j holds qa[4b + t, 4q + j];
        /// zero past `columns` and for rows past m.
        var codes: [UInt8]
        var scales: [Float]
        var zeroPoints: [Int32]
    }

    /// Quantizes and packs x [m, columns] in one pass per row: min/max, then the codes written
    /// straight into `Activations.codes`. Rows are split over `Parallel.workers` when there is enough work.
    func quantizeActivations(_ x: UnsafePointer<Float>, m: Int) -> Activations {
        let br = Self.blockRows, rowBlocks = (m + br - 1) / br, blockBytes = quads * 16
        var scales = [Float](repeating: 1, count: m), zeroPoints = [Int32](repeating: 0, count: m)
        let (columns, paddedColumns) = (columns, paddedColumns)
        let codes = [UInt8](unsafeUninitializedCapacity: rowBlocks * blockBytes) { dst, initialized in
            scales.withUnsafeMutableBufferPointer { sa in
                zeroPoints.withUnsafeMutableBufferPointer { za in
                    let (dst, sa, za) = (UnsafeMutableRawPointer(dst.baseAddress!), sa.baseAddress!, za.baseAddress!)
                    // The zero codes of the rows past m in the last block.
                    for i in m..<(rowBlocks * br) {
                        for q in 0..<(paddedColumns / 4) {
                            dst.storeBytes(of: 0, toByteOffset: (i / br) * blockBytes + q * 16 + (i % br) * 4, as: UInt32.self)
                        }
                    }
                    let workers = m * columns >= 1 << 16 ? max(1, min(Parallel.workers, rowBlocks)) : 1
                    let work = { (worker: Int) in
                        Self.quantizeRows(rowBlocks * worker / workers * br..<min(m, rowBlocks * (worker + 1) / workers * br), x: x,
                                          columns: columns, paddedColumns: paddedColumns, into: dst, scales: sa, zeroPoints: za)
                    }
                    if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
                }
            }
            initialized = rowBlocks * blockBytes
        }
        return Activations(codes: codes, scales: scales, zeroPoints: zeroPoints)
    }

    /// Rows `range` of x into their slots of the packed codes (see `Activations.codes`).
    @inline(never)
    static func quantizeRows(_ range: Range<Int>, x: UnsafePointer<Float>, columns: Int, paddedColumns: Int,
                             into codes: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>, zeroPoints: UnsafeMutablePointer<Int32>) {
        let br = blockRows, blockBytes = paddedColumns / 4 * 16
        for i in range {
            let row = UnsafeRawPointer(x + i * columns)
            // Row i's byte for column c is at dst + (c / 4) · 16 + c % 4: 8 columns are two 4-byte stores 16 bytes apart.
            let dst = codes + (i / br) * blockBytes + (i % br) * 4
            var lo8 = SIMD8<Float>(), hi8 = SIMD8<Float>()  // from 0: the asymmetric range always contains 0
            var c = 0
            while c + 8 <= columns {
                let v = row.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<Float>.self)
                lo8.replace(with: v, where: v .< lo8)
                hi8.replace(with: v, where: v .> hi8)
                c += 8
            }
            var low = lo8.min(), high = hi8.max()
            while c < columns { low = min(low, x[i * columns + c]); high = max(high, x[i * columns + c]); c += 1 }
            let p = QuantizationNumerics.parameters(min: low, max: high, bits: 7, symmetric: false)
            scales[i] = p.scale; zeroPoints[i] = p.zeroPoint
            let inverse = 1 / p.scale, zero = p.zeroPoint
            let lo = SIMD8<Float>(repeating: Float(-zero)), hi = SIMD8<Float>(repeating: Float(127 - zero))
            c = 0
            while c + 8 <= columns {
                // Clamping x · inverse to [−z, 127 − z] before rounding gives the codes `code` gives
                // (integer bounds); adding 1.5·2²³ then rounds to nearest-even and leaves the
                // integer in the low mantissa bits (stdlib SIMD float → int conversions are
                // lane-by-lane calls, and Int32 lane masks compiled to a scalar loop). The & 0x7F
                // keeps even a NaN's code within 7 bits, so no vpmaddubsw can saturate.
                var v = row.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<Float>.self) * inverse
                v.replace(with: lo, where: v .< lo)
                v.replace(with: hi, where: v .> hi)
                let q = unsafeBitCast(v + 12_582_912, to: SIMD8<Int32>.self) &- (0x4B40_0000 &- zero)
                let bytes = unsafeBitCast(SIMD8<UInt8>(truncatingIfNeeded: q) & 0x7F, to: UInt64.self)
                dst.storeBytes(of: UInt32(truncatingIfNeeded: bytes), toByteOffset: 4 * c, as: UInt32.self)
                dst.storeBytes(of: UInt32(truncatingIfNeeded: bytes >> 32), toByteOffset: 4 * c + 16, as: UInt32.self)
                c += 8
            }
            // The tail, and zeros in the last quad's padding (they meet zero weights).
            while c < paddedColumns {
                let q = c < columns ? code(x[i * columns + c], inverse: inverse, zero: zero) : 0
                dst.storeBytes(of: q, toByteOffset: (c / 4) * 16 + c % 4, as: UInt8.self)
                c += 1
            }
        }
    }

    /// One activation code, as the vector loop computes it for finite x: round(x · inverse) to
    /// nearest-even, + zero, clamped to [0, 127].
    static func code(_ x: Float, inverse: Float, zero: Int32) -> UInt8 {
        let q = (x * inverse).rounded(.toNearestOrEven) + Float(zero)
        return q >= 0 ? UInt8(min(q, 127)) : 0
    }

    /// out [m, rows] = dequantized integer products + bias.
    public func forward(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) {
        floatProducts(quantizeActivations(x, m: m), m: m, bias: bias, out: out)
    }

    public var fusesGELU: Bool { microKernel == .vnni512 }

    /// On AVX-512 VNNI: quantize, products, epilogue and GELU per cache-resident chunk (`floatProducts`).
    public func forwardGELU(_ x: UnsafePointer<Float>, m: Int, bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>) -> Bool {
        guard microKernel == .vnni512 else { return false }
        return floatProducts(quantizeActivations(x, m: m), m: m, bias: bias, out: out, geluErf: true)
    }

    /// The exact Int32 sums Σ_k (qa[i, k] − z_i) · qw[r, k], [m, rows] (the kernel's integer result, for tests).
    func integerProducts(_ a: Activations, m: Int) -> [Int32] {
        var out = [Int32](repeating: 0, count: m * rows)
        out.withUnsafeMutableBufferPointer { out in products(a, m: m, Int32Tile(out: out.baseAddress!, n: rows)) }
        return out
    }

    /// Runs the micro-kernel over all (4-row, 16-column) tiles and hands each 8-column half,
    /// zero-point corrected, to `tile.store(row, firstColumn, sums)` (as `Int8GEMM.products`).
    /// Column blocks are split over `Parallel.workers`.
    func products<Store: TileStore>(_ a: Activations, m: Int, _ tile: Store) {
        guard m > 0, rows > 0 else { return }
        let (blocks, quads) = (blocks, quads)
        let workers = max(1, min(Parallel.workers, blocks, m * blocks / 16))
        a.codes.withUnsafeBytes { qa in
            a.zeroPoints.withUnsafeBufferPointer { za in
                weights.withUnsafeBytes { qw in
                    columnSums.withUnsafeBufferPointer { sums in
                        let (qa, za, qw, sums) = (qa.baseAddress!, za.baseAddress!, qw.baseAddress!, sums.baseAddress!)
                        let microKernel = microKernel
                        let work = { (worker: Int) in
                            let range = blocks * worker / workers..<blocks * (worker + 1) / workers
                            if microKernel == .avx2 {
                                Self.columnBlocks(range, a: qa, zeroPoints: za, m: m, w: qw, columnSums: sums, quads: quads, tile)
                            } else {
                                Self.vnniColumnBlocks(range, a: qa, zeroPoints: za, m: m, w: qw, columnSums: sums, quads: quads,
                                                      microKernel, tile)
                            }
                        }
                        if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
                    }
                }
            }
        }
    }

    /// One worker's column blocks, rows in chunks whose codes stay in L2. A function of its own,
    /// not part of the worker closure (see `Int8GEMM.columnBlocks`).
    @inline(never)
    static func columnBlocks<Store: TileStore>(_ range: Range<Int>, a: UnsafeRawPointer, zeroPoints: UnsafePointer<Int32>, m: Int,
                                               w qw: UnsafeRawPointer, columnSums: UnsafePointer<Int32>, quads: Int, _ tile: Store) {
        let (br, bc, blockBytes) = (blockRows, blockColumns, quads * 16)
        let chunk = max(1, 64 * 1024 / max(blockBytes, 1)) * br
        for rowStart in stride(from: 0, to: m, by: chunk) {
            let rowEnd = min(m, rowStart + chunk)
            for b in range {
                let w = qw + b * quads * bc * 4, column = b * bc
                let s0 = UnsafeRawPointer(columnSums + column).loadUnaligned(as: SIMD8<Int32>.self)
                let s1 = UnsafeRawPointer(columnSums + column + 8).loadUnaligned(as: SIMD8<Int32>.self)
                var i = rowStart
                while i < rowEnd {
                    let count = min(br, rowEnd - i)
                    let c = microKernel(a + (i / br) * blockBytes, w, quads: quads)
                    // Σ (qa − z) · w = Σ qa · w − z · Σ w (wrapping: the true result fits Int32).
                    var z = SIMD8<Int32>(repeating: zeroPoints[i])
                    tile.store(i, column, c.0 &- z &* s0); tile.store(i, column + 8, c.1 &- z &* s1)
                    if count > 1 {
                        z = SIMD8(repeating: zeroPoints[i + 1])
                        tile.store(i + 1, column, c.2 &- z &* s0); tile.store(i + 1, column + 8, c.3 &- z &* s1)
                    }
                    if count > 2 {
                        z = SIMD8(repeating: zeroPoints[i + 2])
                        tile.store(i + 2, column, c.4 &- z &* s0); tile.store(i + 2, column + 8, c.5 &- z &* s1)
                    }
                    if count > 3 {
                        z = SIMD8(repeating: zeroPoints[i + 3])
                        tile.store(i + 3, column, c.6 &- z &* s0); tile.store(i + 3, column + 8, c.7 &- z &* s1)
                    }
                    i += br
                }
            }
        }
    }

    /// 4 rows × 16 columns: per quad, two weight vectors and four broadcast 4-byte activation
    /// groups, eight `dot4` into the accumulators (row r, half h) = c[2r + h].
    @inline(__always)
    static func microKernel(_ a: UnsafeRawPointer, _ w: UnsafeRawPointer, quads: Int)
        -> (SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>, SIMD8<Int32>) {
        var c00 = SIMD8<Int32>(), c01 = SIMD8<Int32>(), c10 = SIMD8<Int32>(), c11 = SIMD8<Int32>()
        var c20 = SIMD8<Int32>(), c21 = SIMD8<Int32>(), c30 = SIMD8<Int32>(), c31 = SIMD8<Int32>()
        var ap = a, wp = w
        for _ in 0..<quads {
            let w0 = wp.loadUnaligned(as: SIMD4<Int64>.self)
            let w1 = wp.loadUnaligned(fromByteOffset: 32, as: SIMD4<Int64>.self)
            let b0 = Int8GEMM.broadcast(ap.loadUnaligned(as: Int32.self))
            let b1 = Int8GEMM.broadcast(ap.loadUnaligned(fromByteOffset: 4, as: Int32.self))
            let b2 = Int8GEMM.broadcast(ap.loadUnaligned(fromByteOffset: 8, as: Int32.self))
            let b3 = Int8GEMM.broadcast(ap.loadUnaligned(fromByteOffset: 12, as: Int32.self))
            c00 &+= dot4(b0, w0); c01 &+= dot4(b0, w1)
            c10 &+= dot4(b1, w0); c11 &+= dot4(b1, w1)
            c20 &+= dot4(b2, w0); c21 &+= dot4(b2, w1)
            c30 &+= dot4(b3, w0); c31 &+= dot4(b3, w1)
            ap += 16; wp += 64
        }
        return (c00, c01, c10, c11, c20, c21, c30, c31)
    }

    /// Per 32-bit lane, the sum of 4 u8 × s8 byte products: `vpmaddubsw` (adjacent pairs into
    /// Int16, exact for 7-bit activations), then `vpmaddwd` against ones (adjacent Int16 into Int32).
    @inline(__always)
    static func dot4(_ a: SIMD4<Int64>, _ w: SIMD4<Int64>) -> SIMD8<Int32> {
        #if arch(x86_64)
        let ones = unsafeBitCast(SIMD16<Int16>(repeating: 1), to: SIMD4<Int64>.self)
        return unsafeBitCast(nf_madd_epi16(nf_maddubs_epi16(a, w), ones), to: SIMD8<Int32>.self)
        #else
        let p = SIMD32<Int32>(truncatingIfNeeded: unsafeBitCast(a, to: SIMD32<UInt8>.self))
            &* SIMD32<Int32>(truncatingIfNeeded: unsafeBitCast(w, to: SIMD32<Int8>.self))
        let pairs = p.evenHalf &+ p.oddHalf
        return pairs.evenHalf &+ pairs.oddHalf
        #endif
    }
}
