import NanoCheckpoint

/// The values one element of a ggml block can take, given the block's stored scales: code c
/// stands for `scale · factor(c) + offset`, where factor(c) is the integer c itself (the linear
/// types) or IQ4_NL's level c (`GGUFBlocks.iq4nlLevels`).
///
/// `scale` and `offset` are computed from the block's bytes with the decoder's own Float32
/// operations (a K-quant's sub-block scale `d · sc` first, its offset `−dmin · m`), so `value(c)`
/// is bit for bit what `GGUFBlocks.decode` (and gguf-py) give for that code. Types without an
/// offset carry −0: x + (−0) = x for every x, signed zeros included, and a − b = a + (−b) in
/// IEEE arithmetic, so one formula reproduces `d · q`, `d · q + m` and `dl · q − ml` exactly.
public struct GGMLElementGrid: Equatable, Sendable {
    /// The Float32 factor multiplying the code's level (the f16 scale, or a K-quant sub-block's `d · sc`).
    public let scale: Float
    /// Added after the product: the block's f16 min, a K-quant's `−(dmin · m)`, or −0.
    public let offset: Float
    /// The codes `value` accepts: the integer the decoder multiplies (Q4_0: −8…7, Q4_K: 0…15,
    /// Q8_0: −127…127) or, for IQ4_NL, the index of the level (0…15).
    public let codes: ClosedRange<Int32>
    /// Whether codes index IQ4_NL's non-linear levels rather than being the factor itself.
    public let isNonLinear: Bool

    public init(scale: Float, offset: Float, codes: ClosedRange<Int32>, isNonLinear: Bool = false) {
        self.scale = scale
        self.offset = offset
        self.codes = codes
        self.isNonLinear = isNonLinear
    }

    /// The factor code `c` multiplies the scale by.
    @inline(__always) func factor(_ c: Int32) -> Float {
        isNonLinear ? Float(GGMLElementGrid.iq4nlLevels[Int(c)]) : Float(c)
    }

    /// The Float32 value code `c` (in `codes`) decodes to, bit-identical to the decoder.
    @inline(__always) public func value(_ c: Int32) -> Float { scale * factor(c) + offset }

    /// The code whose value is nearest to `x` (the lower code on ties).
    ///
    /// Values are monotone in the code (scale · factor is exact and rounding is monotone), so a
    /// bisection over the codes finds the first value at or beyond x; the nearest is it or its
    /// predecessor. This works on the rounded Float32 values themselves, so plateaus where
    /// rounding merges neighbouring values (a tiny scale beside a large offset) cannot mislead it.
    @inline(__always) public func nearest(_ x: Float) -> Int32 {
        // u(c) = sign · value(c) is non-decreasing; negation is exact, distances unchanged.
        let sign: Float = scale < 0 ? -1 : 1
        let target = sign * x
        var lo = codes.lowerBound, hi = codes.upperBound
        if !(sign * value(lo) < target) { return lo }
        if sign * value(hi) < target { return hi }
        // Invariant: u(lo) < target ≤ u(hi).
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2
            if sign * value(mid) < target { lo = mid } else { hi = mid }
        }
        return target - sign * value(lo) <= sign * value(hi) - target ? lo : hi
    }

    /// IQ4_NL's levels (the decoder's table).
    static let iq4nlLevels: [Int8] = GGUFBlocks.iq4nlLevels
}
