import CSIMDIntrinsics
import NanoTensor

/// Dequantize-on-the-fly: rows of a `PackedWeight` expanded into a small fp32 panel with SIMD
/// (16 codes per step: widen, convert, one fused multiply-add with the group's scale and offset).
/// The panel is what the GEMM multiplies; the weight itself stays packed in memory.
public enum DequantKernels {
    /// Writes rows [row, row + count) of `w` as fp32 into `panel` ([count, columns], row-major).
    /// Under an AVX-512 kernel set the groups are expanded by the C kernels of CSIMDIntrinsics
    /// (16 lanes per zmm); every set writes the same bits.
    public static func dequantize(_ w: PackedWeight, rows row: Int, count: Int, into panel: UnsafeMutablePointer<Float>,
                                  kernels: KernelSet = .current) {
        let avx512 = kernels.avx512
        w.codes.withUnsafeBufferPointer { codes in
            w.scales.withUnsafeBufferPointer { scales in
                let offsets = w.offsets
                for r in 0..<count {
                    let src = UnsafeRawPointer(codes.baseAddress! + (row + r) * w.bytesPerRow)
                    let dst = panel + r * w.columns
                    for g in 0..<w.groupsPerRow {
                        let slot = (row + r) * w.groupsPerRow + g
                        let scale = scales[slot], offset = offsets?[slot] ?? 0
                        let start = g * w.groupSize
                        switch w.storage {
                        case .int8 where avx512:
                            nf_dequant_8bit_avx512((src + start).assumingMemoryBound(to: UInt8.self), w.signed ? 1 : 0, scale, offset,
                                                   dst + start, w.groupSize)
                        case .int4 where avx512:
                            nf_dequant_4bit_avx512((src + start / 2).assumingMemoryBound(to: UInt8.self), w.signed ? 1 : 0, scale, offset,
                                                   dst + start, w.groupSize)
                        case .int8:
                            int8Group(src + start, w.signed, scale, offset, dst + start, w.groupSize)
                        case .int4:
                            int4Group(src + start / 2, w.signed, scale, offset, dst + start, w.groupSize)
                        }
                    }
                }
            }
        }
    }

    @inline(__always)
    static func int8Group(_ src: UnsafeRawPointer, _ signed: Bool, _ scale: Float, _ offset: Float,
                          _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let s = SIMD16<Float>(repeating: scale), o = SIMD16<Float>(repeating: offset)
        var c = 0
        if signed {
            while c + 16 <= n {
                let q = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: c, as: SIMD16<Int8>.self)))
                UnsafeMutableRawPointer(dst + c).storeBytes(of: q * s + o, as: SIMD16<Float>.self)
                c += 16
            }
            while c < n { dst[c] = Float(src.load(fromByteOffset: c, as: Int8.self)) * scale + offset; c += 1 }
        } else {
            while c + 16 <= n {
                let q = SIMD16<Float>(SIMD16<Int32>(truncatingIfNeeded: src.loadUnaligned(fromByteOffset: c, as: SIMD16<UInt8>.self)))
                UnsafeMutableRawPointer(dst + c).storeBytes(of: q * s + o, as: SIMD16<Float>.self)
                c += 16
            }
            while c < n { dst[c] = Float(src.load(fromByteOffset: c, as: UInt8.self)) * scale + offset; c += 1 }
        }
    }

    /// One group of nibble blocks (n a multiple of 32): low nibbles are codes 0…15 of a block,
    /// high nibbles 16…31; signed codes are sign-extended by shifting into the top of an Int8.
    @inline(__always)
    static func int4Group(_ src: UnsafeRawPointer, _ signed: Bool, _ scale: Float, _ offset: Float,
                          _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        let s = SIMD16<Float>(repeating: scale), o = SIMD16<Float>(repeating: offset)
        let mask = SIMD16<UInt8>(repeating: 0xF)
        for block in stride(from: 0, to: n, by: PackedWeight.int4Block) {
            let b = src.loadUnaligned(fromByteOffset: block / 2, as: SIMD16<UInt8>.self)
            let lo: SIMD16<Int32>, hi: SIMD16<Int32>
            if signed {
                lo = SIMD16<Int32>(truncatingIfNeeded: SIMD16<Int8>(truncatingIfNeeded: b &<< 4) &>> 4)
                hi = SIMD16<Int32>(truncatingIfNeeded: SIMD16<Int8>(truncatingIfNeeded: b) &>> 4)
            } else {
                lo = SIMD16<Int32>(truncatingIfNeeded: b & mask)
                hi = SIMD16<Int32>(truncatingIfNeeded: b &>> 4)
            }
            UnsafeMutableRawPointer(dst + block).storeBytes(of: SIMD16<Float>(lo) * s + o, as: SIMD16<Float>.self)
            UnsafeMutableRawPointer(dst + block + 16).storeBytes(of: SIMD16<Float>(hi) * s + o, as: SIMD16<Float>.self)
        }
    }
}
