import NanoQuant

/// The C99 twins of `FixedPoint`'s functions (`static` in `model.c`).
extension FixedPoint {
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
