/// The integer arithmetic of the C export, in one place: the Swift functions `IntegerMLP` runs
/// and, in `cSource`, the C functions `model.c` runs. The two are written operation for operation
/// alike, so the exported program computes exactly what `IntegerMLP` computes; change one, change
/// the other.
///
/// The requantization is TensorFlow Lite's (`QuantizeMultiplier`, `MultiplyByQuantizedMultiplier`)
/// built on gemmlowp's `SaturatingRoundingDoublingHighMul` and `RoundingDivideByPOT`
/// (gemmlowp/fixedpoint/fixedpoint.h), as CMSIS-NN and TFLite Micro use them.
public enum FixedPoint {
    /// A real multiplier `M = multiplier · 2^−31 · 2^−shift` with `multiplier` a Q31 value in
    /// [2^30, 2^31) (or 0 for M = 0). `shift` > 0 divides (the usual case, M < 0.5); `shift` < 0
    /// multiplies by `2^−shift` before the high multiply (M ≥ 1).
    public struct Multiplier: Equatable, Sendable {
        public var multiplier: Int32
        public var shift: Int32

        public init(multiplier: Int32, shift: Int32) {
            self.multiplier = multiplier
            self.shift = shift
        }

        /// The real value this multiplier stands for.
        public var value: Double {
            Double(multiplier) * pow2(-31 - Int(shift))
        }
    }

    /// Shifts kept in `int8_t` and left shifts of at most 30 keep every step inside 32 and 64 bits.
    public static let shiftRange: ClosedRange<Int32> = -30...31

    /// TFLite's `QuantizeMultiplier`: `M = q · 2^e` with q ∈ [0.5, 1) (frexp), `multiplier =
    /// round(q · 2^31)` (half away from zero), `shift = −e`. A rounded q of exactly 2^31 is
    /// halved and the exponent raised; a multiplier below 2^−32 (shift > 31) becomes 0. Returns
    /// nil when M is negative, not finite, or needs a left shift beyond 30 (M ≥ 2^30).
    public static func quantizeMultiplier(_ m: Double) -> Multiplier? {
        guard m.isFinite, m >= 0 else { return nil }
        if m == 0 { return Multiplier(multiplier: 0, shift: 0) }
        var exponent = Int(m.exponent) + 1          // m = q · 2^exponent, q ∈ [0.5, 1)
        let q = m.significand / 2
        var fixed = Int64((q * 2_147_483_648).rounded(.toNearestOrAwayFromZero))
        if fixed == Int64(1) << 31 { fixed /= 2; exponent += 1 }
        if exponent < -31 { return Multiplier(multiplier: 0, shift: 0) }
        let shift = Int32(-exponent)
        guard shiftRange.contains(shift) else { return nil }
        return Multiplier(multiplier: Int32(fixed), shift: shift)
    }

    /// gemmlowp's `SaturatingRoundingDoublingHighMul`: the high 32 bits of 2·a·b, rounded to
    /// nearest (exact halves upward, by gemmlowp's nudge); the one overflowing case a = b = −2^31 gives 2^31 − 1.
    @inline(__always)
    public static func saturatingRoundingDoublingHighMul(_ a: Int32, _ b: Int32) -> Int32 {
        if a == b && a == Int32.min { return Int32.max }
        let ab = Int64(a) * Int64(b)
        let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
        return Int32((ab + nudge) / (Int64(1) << 31))     // division truncates toward zero, as in C
    }

    /// gemmlowp's `RoundingDivideByPOT`: x / 2^exponent rounded to nearest, ties away from zero;
    /// exponent ∈ [0, 31].
    @inline(__always)
    public static func roundingDivideByPOT(_ x: Int32, _ exponent: Int32) -> Int32 {
        let mask = Int32(truncatingIfNeeded: (Int64(1) << Int64(exponent)) - 1)
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> exponent) + (remainder > threshold ? 1 : 0)
    }

    /// TFLite's `MultiplyByQuantizedMultiplier`: `x · M` rounded. A left shift (shift < 0) saturates
    /// to the int32 range instead of overflowing.
    @inline(__always)
    public static func multiply(_ x: Int32, by m: Multiplier) -> Int32 {
        let left = m.shift < 0 ? -m.shift : 0
        let right = m.shift > 0 ? m.shift : 0
        let scaled = Int32(clamping: Int64(x) * (Int64(1) << Int64(left)))
        return roundingDivideByPOT(saturatingRoundingDoublingHighMul(scaled, m.multiplier), right)
    }

    /// One output of a fully connected layer: the int32 accumulator requantized onto the output
    /// grid, plus its zero point, clamped to [activationMinimum, 127] (activationMinimum is the
    /// output zero point under a fused ReLU, −128 otherwise).
    @inline(__always)
    public static func requantize(_ accumulator: Int32, _ m: Multiplier, outputZeroPoint: Int32,
                                  activationMinimum: Int32) -> Int8 {
        let v = multiply(accumulator, by: m) + outputZeroPoint
        return Int8(Swift.min(Swift.max(v, activationMinimum), 127))
    }

    /// A fully connected layer on int8 activations, `nf_fully_connected` in C:
    /// y[o] = requantize(bias[o] + Σ_i (x[i] − inputZeroPoint) · W[o, i]), W row-major [outputs, inputs].
    /// The caller guarantees the int32 sums cannot overflow (`IntegerMLP` checks every channel).
    public static func fullyConnected(_ x: [Int8], weights: [Int8], bias: [Int32], multipliers: [Multiplier],
                                      inputZeroPoint: Int32, outputZeroPoint: Int32, activationMinimum: Int32) -> [Int8] {
        let inputs = x.count, outputs = bias.count
        precondition(weights.count == inputs * outputs && multipliers.count == outputs, "fullyConnected: sizes disagree")
        var y = [Int8](repeating: 0, count: outputs)
        for o in 0..<outputs {
            var acc = bias[o]
            for i in 0..<inputs {
                acc += (Int32(x[i]) - inputZeroPoint) * Int32(weights[o * inputs + i])
            }
            y[o] = requantize(acc, multipliers[o], outputZeroPoint: outputZeroPoint, activationMinimum: activationMinimum)
        }
        return y
    }

    /// A float feature on the int8 input grid: round(x / scale), ties to even, plus the zero point,
    /// clamped to [−128, 127]; NaN gives −128. `QuantizationNumerics.quantize` exactly: the C twin
    /// `nf_quantize` reaches the same code without libm.
    @inline(__always)
    public static func quantizeInput(_ x: Float, _ p: QuantizationParameters) -> Int8 {
        Int8(QuantizationNumerics.quantize(x, p, qmin: -128, qmax: 127))
    }

    /// The index of the largest value, the first one on ties.
    public static func argmax(_ values: [Int8]) -> Int {
        var best = 0
        for i in values.indices where values[i] > values[best] { best = i }
        return best
    }

    static func pow2(_ e: Int) -> Double { Double(sign: .plus, exponent: e, significand: 1) }

    /// The int8 grid of an activation range (asymmetric, widened to contain 0): the grid of
    /// every activation tensor of `IntegerMLP` and `IntegerCNN`.
    public static func int8Grid(min: Float, max: Float) -> QuantizationParameters {
        var p = QuantizationNumerics.parameters(min: min, max: max, bits: 8, symmetric: false)
        p.zeroPoint -= 128
        return p
    }
}
