import NanoQuant

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

    /// The C99 twins of the functions above (`static` in `model.c`). Only `>>` of a negative int32
    /// is implementation-defined in C99; every compiler nanoforge targets (gcc, clang, armcc)
    /// shifts arithmetically, as CMSIS-NN and gemmlowp also assume.
    static let cSource = cArithmetic + "\n\n" + cFullyConnected

    /// The requantization and input quantization every exported model uses.
    static let cArithmetic = """
    /* gemmlowp SaturatingRoundingDoublingHighMul: high 32 bits of 2*a*b, rounded. */
    static int32_t nf_srdhm(int32_t a, int32_t b)
    {
        int64_t ab;
        int64_t nudge;
        if (a == b && a == INT32_MIN) {
            return INT32_MAX;
        }
        ab = (int64_t)a * (int64_t)b;
        nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
        return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
    }

    /* gemmlowp RoundingDivideByPOT: x / 2^exponent, to nearest, ties away from zero. */
    static int32_t nf_rdbpot(int32_t x, int32_t exponent)
    {
        const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
        const int32_t remainder = x & mask;
        const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
        return (x >> exponent) + (remainder > threshold ? 1 : 0);
    }

    /* TFLite MultiplyByQuantizedMultiplier; a left shift saturates. */
    static int32_t nf_multiply(int32_t x, int32_t multiplier, int32_t shift)
    {
        const int32_t left = shift < 0 ? -shift : 0;
        const int32_t right = shift > 0 ? shift : 0;
        int64_t scaled = (int64_t)x * ((int64_t)1 << left);
        if (scaled > INT32_MAX) {
            scaled = INT32_MAX;
        } else if (scaled < INT32_MIN) {
            scaled = INT32_MIN;
        }
        return nf_rdbpot(nf_srdhm((int32_t)scaled, multiplier), right);
    }

    /* Round to nearest, ties to even, without libm; |v| <= 512. */
    static int32_t nf_round_even(float v)
    {
        int32_t i = (int32_t)v;
        const float fraction = v - (float)i;
        if (fraction > 0.5f || (fraction >= 0.5f && i % 2 != 0)) {
            i += 1;
        } else if (fraction < -0.5f || (fraction <= -0.5f && i % 2 != 0)) {
            i -= 1;
        }
        return i;
    }

    /* round(x / scale) + zero_point, clamped to int8; NaN gives -128. */
    static int8_t nf_quantize(float x, float scale, int32_t zero_point)
    {
        const float v = x / scale;
        int32_t q;
        if (!(v >= -512.0f)) {
            return INT8_MIN;
        }
        if (v > 512.0f) {
            return INT8_MAX;
        }
        q = nf_round_even(v) + zero_point;
        if (q < INT8_MIN) {
            q = INT8_MIN;
        } else if (q > INT8_MAX) {
            q = INT8_MAX;
        }
        return (int8_t)q;
    }
    """

    /// The MLP's fully connected layer.
    static let cFullyConnected = """
    /* One fully connected layer: y = clamp(requantize(bias + sum((x - x_zp) * w)) + y_zp). */
    static void nf_fully_connected(const int8_t *x, int8_t *y, const int8_t *weights, const int32_t *bias,
                                   const int32_t *multipliers, const int8_t *shifts, int32_t input_zero_point,
                                   int32_t output_zero_point, int32_t activation_min, int32_t inputs, int32_t outputs)
    {
        int32_t o;
        int32_t i;
        for (o = 0; o < outputs; ++o) {
            const int8_t *row = weights + (size_t)o * (size_t)inputs;
            int32_t acc = bias[o];
            int32_t v;
            for (i = 0; i < inputs; ++i) {
                acc += ((int32_t)x[i] - input_zero_point) * (int32_t)row[i];
            }
            v = nf_multiply(acc, multipliers[o], (int32_t)shifts[o]) + output_zero_point;
            if (v < activation_min) {
                v = activation_min;
            } else if (v > INT8_MAX) {
                v = INT8_MAX;
            }
            y[o] = (int8_t)v;
        }
    }
    """
}
