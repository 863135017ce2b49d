import NanoCheckpoint
import NanoTensor

/// One ggml block format seen as a quantization grid: for a block's bytes, the grid of each
/// element (`element`: the value every code stands for, derived from the block's stored scales
/// and mins, K-quant sub-block scales included), and writing one element's code back into the
/// bytes (`setCode`), leaving the scales and every other element untouched.
///
/// This is what lets an optimizer (GPTQ) choose codes on exactly the grid a GGUF file stores:
/// the block's parameters come from ggml's own search (`GGUFBlockEncoder`), the codes from the
/// optimizer, and the bytes stay a valid block that `GGUFBlocks.decode` reads back to the values
/// `GGMLElementGrid.value` predicted, bit for bit. Byte layouts are those of
/// `GGUFBlocks+Legacy.swift`, `+IQ4NL.swift` and `+KQuants.swift`; element e of a block is its
/// e-th consecutive value of the row.
public struct GGMLBlockGrid: Sendable {
    /// A block type of `GGUFBlockEncoder.encodable`.
    public let type: GGUFTensorType
    let layout: Layout

    enum Layout: Sendable { case q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl, q2_K, q3_K, q4_K, q5_K, q6_K }

    /// The grid of an encodable type; throws `QuantizationError.unsupportedGGMLType` otherwise.
    public init(type: GGUFTensorType) throws {
        let layouts: [(GGUFTensorType, Layout)] = [(.q8_0, .q8_0), (.q4_0, .q4_0), (.q4_1, .q4_1), (.q5_0, .q5_0),
                                                   (.q5_1, .q5_1), (.iq4_nl, .iq4_nl), (.q2_K, .q2_K), (.q3_K, .q3_K),
                                                   (.q4_K, .q4_K), (.q5_K, .q5_K), (.q6_K, .q6_K)]
        guard let layout = layouts.first(where: { $0.0 == type })?.1 else {
            throw QuantizationError.unsupportedGGMLType(name: type.name, allowed: GGUFBlockEncoder.encodable.map(\.name))
        }
        self.type = type
        self.layout = layout
    }

    /// Elements per block (32, or 256 for the K-quants).
    public var elements: Int { type.blockSize }
    /// Bytes per block.
    public var blockBytes: Int { type.typeSize }

    // MARK: Reading the grid

    /// The grid of element `e` (0..<elements) of the block at `block`.
    @inline(__always)
    public func element(_ e: Int, in block: UnsafePointer<UInt8>) -> GGMLElementGrid {
        switch layout {
        case .q8_0: return GGMLElementGrid(scale: f16(block), offset: -0.0, codes: -127...127)
        case .q4_0: return GGMLElementGrid(scale: f16(block), offset: -0.0, codes: -8...7)
        case .q5_0: return GGMLElementGrid(scale: f16(block), offset: -0.0, codes: -16...15)
        case .q4_1: return GGMLElementGrid(scale: f16(block), offset: f16(block + 2), codes: 0...15)
        case .q5_1: return GGMLElementGrid(scale: f16(block), offset: f16(block + 2), codes: 0...31)
        case .iq4_nl: return GGMLElementGrid(scale: f16(block), offset: -0.0, codes: 0...15, isNonLinear: true)
        case .q2_K:
            let sc = block[e >> 4]
            let dl = f16(block + 80) * Float(sc & 0x0F), ml = f16(block + 82) * Float(sc >> 4)
            return GGMLElementGrid(scale: dl, offset: -ml, codes: 0...3)
        case .q3_K:
            let packed = block + 96, e16 = e >> 4
            let low = (packed[e16 & 7] >> UInt8(4 * (e16 >> 3))) & 0x0F
            let high = (packed[8 + (e16 & 3)] >> UInt8(2 * (e16 >> 2))) & 0x03
            return GGMLElementGrid(scale: f16(block + 108) * Float(Int(low | high << 4) - 32), offset: -0.0, codes: -4...3)
        case .q4_K, .q5_K:
            let (sc, m) = scaleMinK4(e >> 5, block + 4)
            let dl = f16(block) * Float(sc), ml = f16(block + 2) * Float(m)
            return GGMLElementGrid(scale: dl, offset: -ml, codes: layout == .q4_K ? 0...15 : 0...31)
        case .q6_K:
            let dl = f16(block + 208) * Float(Int8(bitPattern: block[192 + (e >> 4)]))
            return GGMLElementGrid(scale: dl, offset: -0.0, codes: -32...31)
        }
    }

    /// The code element `e` holds in the block at `block` (what `element(e, in:).value` decodes).
    public func code(_ e: Int, in block: UnsafePointer<UInt8>) -> Int32 {
        switch layout {
        case .q8_0: return Int32(Int8(bitPattern: block[2 + e]))
        case .q4_0: return Int32(nibble(block + 2, e)) - 8
        case .iq4_nl: return Int32(nibble(block + 2, e))
        case .q4_1: return Int32(nibble(block + 4, e))
        case .q5_0: return Int32(nibble(block + 6, e) | bit(u32(block + 2), e) << 4) - 16
        case .q5_1: return Int32(nibble(block + 8, e) | bit(u32(block + 4), e) << 4)
        case .q2_K: return Int32(crumb(block + 16, e))
        case .q3_K:
            let high = (block[e & 31] >> UInt8(e >> 5)) & 1
            return Int32(crumb(block + 32, e) | high << 2) - 4
        case .q4_K: return Int32(kNibble(block + 16, e))
        case .q5_K: return Int32(kNibble(block + 48, e) | ((block[16 + (e & 31)] >> UInt8(e >> 5)) & 1) << 4)
        case .q6_K:
            let h = e >> 7, r = e & 127
            let low = (block[64 * h + (r & 63)] >> UInt8(4 * (r >> 6))) & 0x0F
            let high = (block[128 + 32 * h + (r & 31)] >> UInt8(2 * (r >> 5))) & 0x03
            return Int32(low | high << 4) - 32
        }
    }

    // MARK: Writing a code

    /// Stores code `c` (in `element(e, in: block).codes`) for element `e`, touching only that
    /// element's bits.
    @inline(__always)
    public func setCode(_ c: Int32, element e: Int, in block: UnsafeMutablePointer<UInt8>) {
        switch layout {
        case .q8_0: block[2 + e] = UInt8(bitPattern: Int8(truncatingIfNeeded: c))
        case .q4_0: setNibble(block + 2, e, UInt8(c + 8))
        case .iq4_nl: setNibble(block + 2, e, UInt8(c))
        case .q4_1: setNibble(block + 4, e, UInt8(c))
        case .q5_0:
            let q = UInt8(c + 16)
            setNibble(block + 6, e, q & 0x0F)
            setBit(block + 2 + (e >> 3), UInt8(e & 7), q >> 4)
        case .q5_1:
            setNibble(block + 8, e, UInt8(c) & 0x0F)
            setBit(block + 4 + (e >> 3), UInt8(e & 7), UInt8(c) >> 4)
        case .q2_K: setCrumb(block + 16, e, UInt8(c))
        case .q3_K:
            let q = UInt8(c + 4)
            setCrumb(block + 32, e, q & 3)
            setBit(block + (e & 31), UInt8(e >> 5), q >> 2)
        case .q4_K: setKNibble(block + 16, e, UInt8(c))
        case .q5_K:
            setKNibble(block + 48, e, UInt8(c) & 0x0F)
            setBit(block + 16 + (e & 31), UInt8(e >> 5), UInt8(c) >> 4)
        case .q6_K:
            let q = UInt8(c + 32), h = e >> 7, r = e & 127
            let lowByte = block + 64 * h + (r & 63), lowShift = UInt8(4 * (r >> 6))
            lowByte.pointee = lowByte.pointee & ~(0x0F << lowShift) | (q & 0x0F) << lowShift
            let highByte = block + 128 + 32 * h + (r & 31), highShift = UInt8(2 * (r >> 5))
            highByte.pointee = highByte.pointee & ~(0x03 << highShift) | (q >> 4) << highShift
        }
    }

    // MARK: Bit fields

    /// The 32-element types' nibbles: element e in the low nibble of byte e (e < 16), else the
    /// high nibble of byte e − 16.
    @inline(__always) private func nibble(_ qs: UnsafePointer<UInt8>, _ e: Int) -> UInt8 {
        e < 16 ? qs[e] & 0x0F : qs[e - 16] >> 4
    }

    @inline(__always) private func setNibble(_ qs: UnsafeMutablePointer<UInt8>, _ e: Int, _ q: UInt8) {
        if e < 16 { qs[e] = qs[e] & 0xF0 | q } else { qs[e - 16] = qs[e - 16] & 0x0F | q << 4 }
    }

    /// Q4_K's and Q5_K's nibbles: element 64c + l is the low nibble of byte 32c + l (l < 32), else
    /// the high nibble of byte 32c + l − 32.
    @inline(__always) private func kNibble(_ qs: UnsafePointer<UInt8>, _ e: Int) -> UInt8 {
        let byte = qs[32 * (e >> 6) + (e & 31)]
        return (e & 32) == 0 ? byte & 0x0F : byte >> 4
    }

    @inline(__always) private func setKNibble(_ qs: UnsafeMutablePointer<UInt8>, _ e: Int, _ q: UInt8) {
        let p = qs + 32 * (e >> 6) + (e & 31)
        p.pointee = (e & 32) == 0 ? p.pointee & 0xF0 | q : p.pointee & 0x0F | q << 4
    }

    /// Q2_K's and Q3_K's 2-bit codes: element 128h + 32s + l in bits 2s…2s+1 of byte 32h + l.
    @inline(__always) private func crumb(_ qs: UnsafePointer<UInt8>, _ e: Int) -> UInt8 {
        (qs[(e >> 7) * 32 + (e & 31)] >> UInt8(2 * ((e & 127) >> 5))) & 3
    }

    @inline(__always) private func setCrumb(_ qs: UnsafeMutablePointer<UInt8>, _ e: Int, _ q: UInt8) {
        let p = qs + (e >> 7) * 32 + (e & 31), shift = UInt8(2 * ((e & 127) >> 5))
        p.pointee = p.pointee & ~(3 << shift) | q << shift
    }

    @inline(__always) private func bit(_ word: UInt32, _ e: Int) -> UInt8 { UInt8((word >> UInt32(e)) & 1) }

    @inline(__always) private func setBit(_ p: UnsafeMutablePointer<UInt8>, _ shift: UInt8, _ value: UInt8) {
        p.pointee = p.pointee & ~(1 << shift) | (value & 1) << shift
    }

    @inline(__always) private func u32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) | UInt32(p[1]) << 8 | UInt32(p[2]) << 16 | UInt32(p[3]) << 24
    }

    @inline(__always) private func f16(_ p: UnsafePointer<UInt8>) -> Float {
        HalfPrecision.float(fromFloat16: UInt16(p[0]) | UInt16(p[1]) << 8)
    }

    /// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block j (0..<8) from Q4_K's and
    /// Q5_K's 12 packed bytes.
    @inline(__always) private func scaleMinK4(_ j: Int, _ s: UnsafePointer<UInt8>) -> (scale: UInt8, min: UInt8) {
        if j < 4 { return (s[j] & 63, s[j + 4] & 63) }
        return ((s[j + 4] & 0x0F) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4))
    }
}
