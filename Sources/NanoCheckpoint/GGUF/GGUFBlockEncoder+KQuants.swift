/// ggml's K-quant super-blocks of 256 elements, encoded as `quantize_row_q2_K_ref` …
/// `quantize_row_q6_K_ref` (ggml-quants.c) do: each sub-block's scale (and min) comes from a
/// search (`GGUFBlockEncoder+ScaleSearch.swift`), the sub-block scales are themselves quantized
/// against the super-block's f16 scale, and the codes are then recomputed from the stored scales.
/// Layouts as `GGUFBlocks+KQuants.swift` decodes them.
extension GGUFBlockEncoder {
    /// Packs 2-bit codes as Q2_K and Q3_K store them: element 128h + 32s + l in bits 2s…2s+1 of
    /// byte 32h + l.
    @inline(__always) static func pack2Bit(_ L: UnsafePointer<UInt8>, _ qs: UnsafeMutablePointer<UInt8>) {
        for j in stride(from: 0, to: 256, by: 128) {
            for l in 0..<32 {
                qs[j / 4 + l] = L[j + l] | L[j + l + 32] << 2 | L[j + l + 64] << 4 | L[j + l + 96] << 6
            }
        }
    }

    /// Q2_K (84 bytes): 4-bit scale and min per 16 elements against f16 d and dmin, 2-bit codes.
    static func encodeQ2_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        let L = Scratch<UInt8>(256), Laux = Scratch<UInt8>(16), weights = Scratch<Float>(16)
        let mins = Scratch<Float>(16), scales = Scratch<Float>(16)
        defer { L.free(); Laux.free(); weights.free(); mins.free(); scales.free() }
        let q4scale: Float = 15
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + 84 * b
            let sc = y, dp = y + 80, dminp = y + 82
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<16 {
                for l in 0..<16 { weights[l] = abs(v[16 * j + l]) }
                scales[j] = makeQKX2Quants(16, 3, v + 16 * j, weights.p, L.p + 16 * j, &mins[j], Laux.p,
                                           rmin: -0.5, rdelta: 0.1, nstep: 15, useMAD: true)
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
            if maxScale > 0 {
                let iscale = q4scale / maxScale
                for j in 0..<16 { sc[j] = UInt8(truncatingIfNeeded: nearestInt(iscale * scales[j])) }
                storeF16(maxScale / q4scale, dp)
            } else {
                for j in 0..<16 { sc[j] = 0 }
                storeF16(0, dp)
            }
            if maxMin > 0 {
                let iscale = q4scale / maxMin
                for j in 0..<16 { sc[j] |= UInt8(truncatingIfNeeded: nearestInt(iscale * mins[j]) << 4) }
                storeF16(maxMin / q4scale, dminp)
            } else {
                storeF16(0, dminp)
            }
            finishQ2_K(v, L.p, y)
        }
    }

    /// The end of a Q2_K block whose scales, mins, d and dmin are stored: codes recomputed from
    /// the stored (rounded) sub-block scale and min where the scale is not zero (elsewhere `L`
    /// keeps the search's codes), then packed.
    static func finishQ2_K(_ v: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, _ y: UnsafeMutablePointer<UInt8>) {
        let sc = y, dp = y + 80, dminp = y + 82
        for j in 0..<16 {
            let d = loadF16(dp) * Float(sc[j] & 0x0F)
            if d == 0 { continue }
            let dm = loadF16(dminp) * Float(sc[j] >> 4)
            for i in 0..<16 {
                L[16 * j + i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(3, nearestInt((v[16 * j + i] + dm) / d))))
            }
        }
        pack2Bit(L, y + 16)
    }

    /// Q3_K (110 bytes): signed 6-bit scales per 16 elements against f16 d, 3-bit codes split into
    /// a high-bit mask and 2-bit planes.
    static func encodeQ3_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        let L = Scratch<Int8>(256), scales = Scratch<Float>(16)
        defer { L.free(); scales.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + 110 * b
            let sc = y + 96, dp = y + 108
            var maxScale: Float = 0, amax: Float = 0
            for j in 0..<16 {
                scales[j] = makeQ3Quants(16, 4, v + 16 * j, L.p + 16 * j)
                if abs(scales[j]) > amax { amax = abs(scales[j]); maxScale = scales[j] }
            }
            for i in 0..<12 { sc[i] = 0 }
            if maxScale != 0 {
                let iscale = -32 / maxScale
                for j in 0..<16 {
                    var l = Int8(truncatingIfNeeded: nearestInt(iscale * scales[j]))
                    l = Swift.max(-32, Swift.min(31, l)) + 32
                    let u = UInt8(bitPattern: l)
                    if j < 8 { sc[j] = u & 0x0F } else { sc[j - 8] |= (u & 0x0F) << 4 }
                    sc[j % 4 + 8] |= (u >> 4) << UInt8(2 * (j / 4))
                }
                storeF16(1 / iscale, dp)
            } else {
                storeF16(0, dp)
            }
            finishQ3_K(v, L.p, y)
        }
    }

    /// The end of a Q3_K block whose 6-bit scales and d are stored: codes (biased by 4) recomputed
    /// from each stored non-zero scale, then split into the high-bit mask and the 2-bit planes.
    static func finishQ3_K(_ v: UnsafePointer<Float>, _ L: UnsafeMutablePointer<Int8>, _ y: UnsafeMutablePointer<UInt8>) {
        let hmask = y, qs = y + 32, sc = y + 96, dp = y + 108
        for j in 0..<16 {
            let low = j < 8 ? sc[j] & 0x0F : sc[j - 8] >> 4
            let scale = Int(low | ((sc[8 + j % 4] >> UInt8(2 * (j / 4))) & 3) << 4) - 32
            let d = loadF16(dp) * Float(scale)
            if d == 0 { continue }
            for i in 0..<16 {
                L[16 * j + i] = Int8(truncatingIfNeeded: Swift.max(-4, Swift.min(3, nearestInt(v[16 * j + i] / d))) + 4)
            }
        }
        // The third bit of element e goes to bit e / 32 of byte e % 32.
        for i in 0..<32 { hmask[i] = 0 }
        for j in 0..<256 where L[j] > 3 {
            hmask[j % 32] |= 1 << UInt8(j / 32)
            L[j] -= 4
        }
        L.withMemoryRebound(to: UInt8.self, capacity: 256) { pack2Bit($0, qs) }
    }

    /// Packs eight 6-bit scales and mins into Q4_K's and Q5_K's 12 bytes (the inverse of
    /// `GGUFBlocks.scaleMinK4`).
    @inline(__always) static func packScaleMinK4(_ ls: UInt8, _ lm: UInt8, _ j: Int, _ s: UnsafeMutablePointer<UInt8>) {
        if j < 4 {
            s[j] = ls
            s[j + 4] = lm
        } else {
            s[j + 4] = (ls & 0x0F) | (lm & 0x0F) << 4
            s[j - 4] |= (ls >> 4) << 6
            s[j] |= (lm >> 4) << 6
        }
    }

    /// Q4_K (144 bytes) and Q5_K (176 bytes): 6-bit scale and min per 32 elements against f16 d
    /// and dmin; codes of `bits` bits (4: nibbles; 5: nibbles plus a plane of fifth bits).
    private static func encodeQ45_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>, bits: Int) {
        let nmax = Int32((1 << bits) - 1), typeSize = bits == 4 ? 144 : 176
        let rmin: Float = bits == 4 ? -1 : -0.5, nstep = bits == 4 ? 20 : 15
        let L = Scratch<UInt8>(256), Laux = Scratch<UInt8>(32), weights = Scratch<Float>(32)
        let mins = Scratch<Float>(8), scales = Scratch<Float>(8)
        defer { L.free(); Laux.free(); weights.free(); mins.free(); scales.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + typeSize * b
            let dp = y, dminp = y + 2, sc = y + 4
            var maxScale: Float = 0, maxMin: Float = 0
            for j in 0..<8 {
                var sumX2: Float = 0
                for l in 0..<32 { sumX2 += v[32 * j + l] * v[32 * j + l] }
                let avX = (sumX2 / 32).squareRoot()
                for l in 0..<32 { weights[l] = avX + abs(v[32 * j + l]) }
                scales[j] = makeQKX2Quants(32, nmax, v + 32 * j, weights.p, L.p + 32 * j, &mins[j], Laux.p,
                                           rmin: rmin, rdelta: 0.1, nstep: nstep, useMAD: false)
                if scales[j] > maxScale { maxScale = scales[j] }
                if mins[j] > maxMin { maxMin = mins[j] }
            }
            let invScale: Float = maxScale > 0 ? 63 / maxScale : 0
            let invMin: Float = maxMin > 0 ? 63 / maxMin : 0
            for j in 0..<8 {
                let ls = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invScale * scales[j])))
                let lm = Swift.min(63, UInt8(truncatingIfNeeded: nearestInt(invMin * mins[j])))
                packScaleMinK4(ls, lm, j, sc)
            }
            storeF16(maxScale / 63, dp)
            storeF16(maxMin / 63, dminp)
            finishQ45_K(v, L.p, y, bits: bits)
        }
    }

    /// The end of a Q4_K / Q5_K block whose scales, mins, d and dmin are stored: codes recomputed
    /// from each stored non-zero scale and its min, then packed as nibbles (and fifth bits).
    static func finishQ45_K(_ v: UnsafePointer<Float>, _ L: UnsafeMutablePointer<UInt8>, _ y: UnsafeMutablePointer<UInt8>, bits: Int) {
        let nmax = Int32((1 << bits) - 1)
        let dp = y, dminp = y + 2, sc = y + 4
        for j in 0..<8 {
            let (s, m) = GGUFBlocks.scaleMinK4(j, UnsafePointer(sc))
            let d = loadF16(dp) * Float(s)
            if d == 0 { continue }
            let dm = loadF16(dminp) * Float(m)
            for i in 0..<32 {
                L[32 * j + i] = UInt8(truncatingIfNeeded: Swift.max(0, Swift.min(nmax, nearestInt((v[32 * j + i] + dm) / d))))
            }
        }
        if bits == 4 {
            let qs = y + 16
            for c in 0..<4 { for l in 0..<32 { qs[32 * c + l] = L[64 * c + l] | L[64 * c + l + 32] << 4 } }
        } else {
            let qh = y + 16, qs = y + 48
            for i in 0..<32 { qh[i] = 0 }
            for c in 0..<4 {
                for l in 0..<32 {
                    var l1 = L[64 * c + l], l2 = L[64 * c + l + 32]
                    if l1 > 15 { l1 -= 16; qh[l] |= 1 << UInt8(2 * c) }
                    if l2 > 15 { l2 -= 16; qh[l] |= 2 << UInt8(2 * c) }
                    qs[32 * c + l] = l1 | l2 << 4
                }
            }
        }
    }

    static func encodeQ4_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        encodeQ45_K(x, blocks, out, bits: 4)
    }

    static func encodeQ5_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>) {
        encodeQ45_K(x, blocks, out, bits: 5)
    }

    /// Q6_K (210 bytes): int8 scales per 16 elements against f16 d, 6-bit codes as low nibbles
    /// and 2-bit high parts.
    /// With `importance` (quantize_row_q6_K_impl: the row's per-column weights, advanced by 256
    /// per block), each sub-block's scale search weights by the importance itself instead of x².
    static func encodeQ6_K(_ x: UnsafePointer<Float>, _ blocks: Int, _ out: UnsafeMutablePointer<UInt8>,
                           importance: UnsafePointer<Float>? = nil) {
        let L = Scratch<Int8>(256), scales = Scratch<Float>(16)
        defer { L.free(); scales.free() }
        for b in 0..<blocks {
            let v = x + 256 * b, y = out + 210 * b
            let ql = y, qh = y + 128, sc = y + 192, dp = y + 208
            var maxScale: Float = 0, maxAbsScale: Float = 0
            for ib in 0..<16 {
                scales[ib] = makeQXQuants(16, 32, v + 16 * ib, L.p + 16 * ib, importance.map { $0 + 256 * b + 16 * ib })
                if abs(scales[ib]) > maxAbsScale { maxAbsScale = abs(scales[ib]); maxScale = scales[ib] }
            }
            if maxAbsScale < groupMaxEps {
                for i in 0..<210 { y[i] = 0 }
                continue
            }
            let iscale = -128 / maxScale
            storeF16(1 / iscale, dp)
            for ib in 0..<16 { sc[ib] = UInt8(truncatingIfNeeded: Swift.min(127, nearestInt(iscale * scales[ib]))) }
            for j in 0..<16 {
                let d = loadF16(dp) * Float(Int8(bitPattern: sc[j]))
                if d == 0 { continue }
                for i in 0..<16 {
                    L[16 * j + i] = Int8(truncatingIfNeeded: Swift.max(-32, Swift.min(31, nearestInt(v[16 * j + i] / d))) + 32)
                }
            }
            for h in 0..<2 {
                let L0 = 128 * h
                for l in 0..<32 {
                    let q0 = UInt8(bitPattern: L[L0 + l]), q1 = UInt8(bitPattern: L[L0 + l + 32])
                    let q2 = UInt8(bitPattern: L[L0 + l + 64]), q3 = UInt8(bitPattern: L[L0 + l + 96])
                    ql[64 * h + l] = (q0 & 0x0F) | (q2 & 0x0F) << 4
                    ql[64 * h + l + 32] = (q1 & 0x0F) | (q3 & 0x0F) << 4
                    qh[32 * h + l] = q0 >> 4 | (q1 >> 4) << 2 | (q2 >> 4) << 4 | (q3 >> 4) << 6
                }
            }
        }
    }
}

/// A fixed-size scratch buffer for one encoding call (the C code's stack arrays), indexed like one.
struct Scratch<Element> {
    let p: UnsafeMutablePointer<Element>
    init(_ count: Int) where Element: Numeric {
        p = .allocate(capacity: count)
        p.initialize(repeating: 0, count: count)
    }
    subscript(i: Int) -> Element {
        get { p[i] }
        nonmutating set { p[i] = newValue }
    }
    func free() { p.deallocate() }
}
