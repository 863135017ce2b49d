import CSIMDIntrinsics
import Foundation
import NanoQuant
import NanoTensor

extension Int8GEMM {
    /// The VNNI path's activations in one pass per row: each row's symmetric int8 codes exactly as
    /// `quantizeActivations` computes them (same scale, same grid and rounding), plus 128, written
    /// straight into `U8S8GEMM`'s layout with zero point 128 (see `U8S8GEMM.offsetActivations`, the
    /// two-pass form the tests compare against). Rows are split over `Parallel.workers` when there
    /// is enough work. With the AVX-512 VNNI kernel the absmax and the codes run on zmm
    /// (`nf_absmax_avx512`, `nf_quantize_offset_blocks_avx512`: the same operations, the same codes).
    func quantizeOffsetActivations(_ x: UnsafePointer<Float>, m: Int, for vnni: U8S8GEMM) -> U8S8GEMM.Activations {
        let br = U8S8GEMM.blockRows, rowBlocks = (m + br - 1) / br, blockBytes = vnni.quads * 16
        var scales = [Float](repeating: 1, count: m)
        let (columns, quads) = (columns, vnni.quads)
        let avx512 = vnni.microKernel == .vnni512
        let workers = m * columns >= 1 << 16 ? max(1, min(Parallel.workers, rowBlocks)) : 1
        let codes = [UInt8](unsafeUninitializedCapacity: rowBlocks * blockBytes) { dst, initialized in
            scales.withUnsafeMutableBufferPointer { sa in
                let (dst, sa) = (dst.baseAddress!, sa.baseAddress!)
                if avx512 {
                    // Every byte of every block is written (padding as 128): no fill first.
                    let inverse = UnsafeMutablePointer<Float>.allocate(capacity: max(m, 1))
                    defer { inverse.deallocate() }
                    let work = { (worker: Int) in
                        let blocks = rowBlocks * worker / workers..<rowBlocks * (worker + 1) / workers
                        for i in (blocks.lowerBound * br)..<min(m, blocks.upperBound * br) {
                            let absmax = nf_absmax_avx512(x + i * columns, columns)
                            sa[i] = QuantizationNumerics.parameters(min: -absmax, max: absmax, bits: 8, symmetric: true).scale
                            inverse[i] = 1 / sa[i]
                        }
                        nf_quantize_offset_blocks_avx512(x, m, columns, quads, inverse, blocks.lowerBound, blocks.upperBound, dst)
                    }
                    if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
                } else {
                    // Padding (k past columns, rows past m) holds code 128 (value 0).
                    dst.initialize(repeating: 128, count: rowBlocks * blockBytes)
                    let work = { (worker: Int) in
                        Self.quantizeOffsetRows(rowBlocks * worker / workers * br..<min(m, rowBlocks * (worker + 1) / workers * br), x: x,
                                                columns: columns, blockBytes: blockBytes, into: UnsafeMutableRawPointer(dst), scales: sa)
                    }
                    if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
                }
            }
            initialized = rowBlocks * blockBytes
        }
        return U8S8GEMM.Activations(codes: codes, scales: scales, zeroPoints: [Int32](repeating: 128, count: m))
    }

    /// Rows `range` of x into their slots of the packed codes (`U8S8GEMM.Activations.codes`).
    @inline(never)
    static func quantizeOffsetRows(_ range: Range<Int>, x: UnsafePointer<Float>, columns: Int, blockBytes: Int,
                                   into codes: UnsafeMutableRawPointer, scales: UnsafeMutablePointer<Float>) {
        let br = U8S8GEMM.blockRows
        let (lo, hi) = (Float(QuantizationNumerics.qmin(bits: 8, symmetric: true)), Float(QuantizationNumerics.qmax(bits: 8, symmetric: true)))
        for i in range {
            let row = UnsafeRawPointer(x + i * columns)
            let scale = rowScale(x + i * columns, columns: columns)
            scales[i] = scale
            let inverse = 1 / scale
            // Row i's byte for column c is at dst + (c / 4) · 16 + c % 4: 8 columns are two 4-byte stores 16 bytes apart.
            let dst = codes + (i / br) * blockBytes + (i % br) * 4
            var c = 0
            while c + 8 <= columns {
                // As quantizeActivations: clamp, then 1.5·2²³ rounds to nearest-even; − (2²³·1.5 bits − 128) adds the offset.
                var v = row.loadUnaligned(fromByteOffset: 4 * c, as: SIMD8<Float>.self) * inverse
                v.replace(with: SIMD8(repeating: lo), where: v .< lo)
                v.replace(with: SIMD8(repeating: hi), where: v .> hi)
                let q = unsafeBitCast(v + 12_582_912, to: SIMD8<Int32>.self) &- (0x4B40_0000 - 128)
                let bytes = unsafeBitCast(SIMD8<UInt8>(truncatingIfNeeded: q), to: UInt64.self)
                dst.storeBytes(of: UInt32(truncatingIfNeeded: bytes), toByteOffset: 4 * c, as: UInt32.self)
                dst.storeBytes(of: UInt32(truncatingIfNeeded: bytes >> 32), toByteOffset: 4 * c + 16, as: UInt32.self)
                c += 8
            }
            while c < columns {
                let v = (x[i * columns + c] * inverse).rounded(.toNearestOrEven)
                let q = Int16(min(max(v, lo), hi)) &+ 128
                dst.storeBytes(of: UInt8(truncatingIfNeeded: q), toByteOffset: (c / 4) * 16 + c % 4, as: UInt8.self)
                c += 1
            }
        }
    }
}
