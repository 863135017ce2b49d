/// The integer kernels of a CNN's C export in Swift (what `IntegerCNN` runs) and, in `cSource`,
/// their C twins in `model.c`. Each pair does the same int32 arithmetic; the loops may visit
/// terms in another order, which cannot change a result because `IntegerCNN` proves that no
/// int32 sum overflows. Activations are int8 NHWC ([height, width, channels] of one image).
/// Requantization goes through `FixedPoint` (TFLite's `MultiplyByQuantizedMultiplier`).
public enum IntegerKernels {
    /// The shape of a convolution or pooling window and the tensors around it.
    public struct Window: Equatable, Sendable {
        public var inHeight: Int, inWidth: Int, inChannels: Int
        public var outHeight: Int, outWidth: Int, outChannels: Int
        public var kernelHeight: Int, kernelWidth: Int
        public var strideHeight: Int, strideWidth: Int
        public var dilationHeight: Int, dilationWidth: Int
        public var padTop: Int, padLeft: Int
    }

    /// A 2-D convolution, TFLite / CMSIS-NN style: y[p, o] = clamp(M[o]·(bias[o] + Σ (x − zpIn)·w) + zpOut).
    /// With `depthMultiplier` 0 the weights are [out][kh][kw][in] (a Conv2D, a pointwise kernel or
    /// a Dense layer as a 1×1 convolution); with `depthMultiplier` m ≥ 1 the convolution is
    /// depthwise, weights [out][kh][kw], output channel o reading input channel o / m.
    /// Padding positions add nothing: (x − zpIn) is 0 for the real value 0.
    public static func convolution(_ x: [Int8], _ g: Window, weights: [Int8], bias: [Int32],
                                   multipliers: [FixedPoint.Multiplier], depthMultiplier: Int,
                                   inputZeroPoint: Int32, outputZeroPoint: Int32,
                                   activationMinimum: Int32, activationMaximum: Int32) -> [Int8] {
        precondition(x.count == g.inHeight * g.inWidth * g.inChannels && bias.count == g.outChannels, "convolution: sizes disagree")
        var y = [Int8](repeating: 0, count: g.outHeight * g.outWidth * g.outChannels)
        let taps = g.kernelHeight * g.kernelWidth
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for o in 0..<g.outChannels {
                    var acc = bias[o]
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
                            if ix < 0 || ix >= g.inWidth { continue }
                            let pixel = (iy * g.inWidth + ix) * g.inChannels
                            if depthMultiplier > 0 {
                                let xv = Int32(x[pixel + o / depthMultiplier]) - inputZeroPoint
                                acc += xv * Int32(weights[o * taps + ky * g.kernelWidth + kx])
                            } else {
                                let row = (o * taps + ky * g.kernelWidth + kx) * g.inChannels
                                for c in 0..<g.inChannels {
                                    acc += (Int32(x[pixel + c]) - inputZeroPoint) * Int32(weights[row + c])
                                }
                            }
                        }
                    }
                    let v = FixedPoint.multiply(acc, by: multipliers[o]) + outputZeroPoint
                    y[(oy * g.outWidth + ox) * g.outChannels + o] = Int8(Swift.min(Swift.max(v, activationMinimum), activationMaximum))
                }
            }
        }
        return y
    }

    /// Max pooling on the input's own grid (the output shares its scale and zero point); windows
    /// over the padding take the maximum of their real positions only, as Keras's `same` does.
    public static func maxPool(_ x: [Int8], _ g: Window) -> [Int8] {
        var y = [Int8](repeating: 0, count: g.outHeight * g.outWidth * g.outChannels)
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for c in 0..<g.outChannels {
                    var m = Int8.min
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
                            if ix < 0 || ix >= g.inWidth { continue }
                            m = Swift.max(m, x[(iy * g.inWidth + ix) * g.inChannels + c])
                        }
                    }
                    y[(oy * g.outWidth + ox) * g.outChannels + c] = m
                }
            }
        }
        return y
    }

    /// Global average pooling onto a new grid: y[c] = clamp(M·Σ_p (x[p, c] − zpIn) + zpOut), M = sIn / (sOut · pixels).
    public static func globalAveragePool(_ x: [Int8], pixels: Int, channels: Int, multiplier: FixedPoint.Multiplier,
                                         inputZeroPoint: Int32, outputZeroPoint: Int32) -> [Int8] {
        (0..<channels).map { c in
            var acc: Int32 = 0
            for p in 0..<pixels { acc += Int32(x[p * channels + c]) - inputZeroPoint }
            return Int8(Swift.min(Swift.max(FixedPoint.multiply(acc, by: multiplier) + outputZeroPoint, -128), 127))
        }
    }

    /// The left shift TFLite's int8 Add applies to both inputs before rescaling them.
    public static let addLeftShift: Int32 = 20

    /// Elementwise sum of two int8 tensors on their own grids, TFLite's int8 `Add`: each input
    /// (x − zp) · 2^20 brought to the common scale 2·max(sA, sB) by its multiplier, the sum
    /// requantized onto the output grid and clamped.
    public static func add(_ a: [Int8], _ b: [Int8], aZeroPoint: Int32, bZeroPoint: Int32, outputZeroPoint: Int32,
                           aMultiplier: FixedPoint.Multiplier, bMultiplier: FixedPoint.Multiplier, outputMultiplier: FixedPoint.Multiplier,
                           activationMinimum: Int32, activationMaximum: Int32) -> [Int8] {
        precondition(a.count == b.count, "add: sizes disagree")
        return (0..<a.count).map { i in
            let sa = FixedPoint.multiply((Int32(a[i]) - aZeroPoint) << addLeftShift, by: aMultiplier)
            let sb = FixedPoint.multiply((Int32(b[i]) - bZeroPoint) << addLeftShift, by: bMultiplier)
            let v = FixedPoint.multiply(sa + sb, by: outputMultiplier) + outputZeroPoint
            return Int8(Swift.min(Swift.max(v, activationMinimum), activationMaximum))
        }
    }

    /// ReLU / ReLU6 on a tensor's own grid: a clamp to [minimum, maximum].
    public static func clamp(_ x: [Int8], minimum: Int32, maximum: Int32) -> [Int8] {
        x.map { Int8(Swift.min(Swift.max(Int32($0), minimum), maximum)) }
    }

    /// The C99 twins (`static` in `model.c`, after `FixedPoint.cSource`), by kernel; `model.c`
    /// holds only the ones its operations call (gcc's -Wunused-function).
    enum CKernel: CaseIterable {
        case convolution, maxPool, globalAveragePool, add, clamp
    }

    /// The window type and the int8 clamp every kernel but max pooling uses.
    static let cCommon = """
    typedef struct {
        int32_t in_h, in_w, in_c, out_h, out_w, out_c;
        int32_t k_h, k_w, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left;
    } nf_window;
    """

    static let cClamp8 = """
    static int8_t nf_clamp8(int32_t v, int32_t lo, int32_t hi)
    {
        if (v < lo) {
            v = lo;
        }
        if (v > hi) {
            v = hi;
        }
        return (int8_t)v;
    }
    """

    static func cSource(_ kernel: CKernel) -> String {
        switch kernel {
        case .convolution: return cConvolution
        case .maxPool: return cMaxPool
        case .globalAveragePool: return cGlobalAveragePool
        case .add: return cAdd
        case .clamp: return cClamp
        }
    }

    static let cConvolution = """
    /* Convolution; depth_multiplier 0: weights [out][kh][kw][in], else depthwise [out][kh][kw]. */
    static void nf_convolution(const int8_t *x, int8_t *y, const nf_window *g, const int8_t *w, const int32_t *bias,
                               const int32_t *multipliers, const int8_t *shifts, int32_t depth_multiplier,
                               int32_t input_zp, int32_t output_zp, int32_t act_min, int32_t act_max)
    {
        const int32_t taps = g->k_h * g->k_w;
        int32_t oy, ox, o, ky, kx, c;
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                int8_t *out = y + ((size_t)oy * (size_t)g->out_w + (size_t)ox) * (size_t)g->out_c;
                for (o = 0; o < g->out_c; ++o) {
                    int32_t acc = bias[o];
                    for (ky = 0; ky < g->k_h; ++ky) {
                        const int32_t iy = oy * g->stride_h + ky * g->dilation_h - g->pad_top;
                        if (iy < 0 || iy >= g->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < g->k_w; ++kx) {
                            const int32_t ix = ox * g->stride_w + kx * g->dilation_w - g->pad_left;
                            const int8_t *pixel;
                            if (ix < 0 || ix >= g->in_w) {
                                continue;
                            }
                            pixel = x + ((size_t)iy * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c;
                            if (depth_multiplier > 0) {
                                acc += ((int32_t)pixel[o / depth_multiplier] - input_zp) * (int32_t)w[o * taps + ky * g->k_w + kx];
                            } else {
                                const int8_t *row = w + ((size_t)o * (size_t)taps + (size_t)(ky * g->k_w + kx)) * (size_t)g->in_c;
                                for (c = 0; c < g->in_c; ++c) {
                                    acc += ((int32_t)pixel[c] - input_zp) * (int32_t)row[c];
                                }
                            }
                        }
                    }
                    out[o] = nf_clamp8(nf_multiply(acc, multipliers[o], (int32_t)shifts[o]) + output_zp, act_min, act_max);
                }
            }
        }
    }
    """

    static let cMaxPool = """
    /* Max pooling on the input's grid; padding positions are skipped. */
    static void nf_max_pool(const int8_t *x, int8_t *y, const nf_window *g)
    {
        int32_t oy, ox, c, ky, kx;
        for (oy = 0; oy < g->out_h; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                for (c = 0; c < g->out_c; ++c) {
                    int8_t m = INT8_MIN;
                    for (ky = 0; ky < g->k_h; ++ky) {
                        const int32_t iy = oy * g->stride_h + ky * g->dilation_h - g->pad_top;
                        if (iy < 0 || iy >= g->in_h) {
                            continue;
                        }
                        for (kx = 0; kx < g->k_w; ++kx) {
                            const int32_t ix = ox * g->stride_w + kx * g->dilation_w - g->pad_left;
                            int8_t v;
                            if (ix < 0 || ix >= g->in_w) {
                                continue;
                            }
                            v = x[((size_t)iy * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c + (size_t)c];
                            if (v > m) {
                                m = v;
                            }
                        }
                    }
                    y[((size_t)oy * (size_t)g->out_w + (size_t)ox) * (size_t)g->out_c + (size_t)c] = m;
                }
            }
        }
    }
    """

    static let cGlobalAveragePool = """
    /* Global average pooling: y[c] = M * sum_p (x[p, c] - input_zp) + output_zp. */
    static void nf_global_average_pool(const int8_t *x, int8_t *y, int32_t pixels, int32_t channels, int32_t multiplier,
                                       int32_t shift, int32_t input_zp, int32_t output_zp)
    {
        int32_t c, p;
        for (c = 0; c < channels; ++c) {
            int32_t acc = 0;
            for (p = 0; p < pixels; ++p) {
                acc += (int32_t)x[(size_t)p * (size_t)channels + (size_t)c] - input_zp;
            }
            y[c] = nf_clamp8(nf_multiply(acc, multiplier, shift) + output_zp, INT8_MIN, INT8_MAX);
        }
    }
    """

    static let cAdd = """
    /* TFLite int8 Add: both inputs shifted left by 20, rescaled to a common scale, summed, requantized. */
    static void nf_add(const int8_t *a, const int8_t *b, int8_t *y, int32_t count, const int32_t *params)
    {
        /* params: a_zp, b_zp, y_zp, a_mult, a_shift, b_mult, b_shift, y_mult, y_shift, act_min, act_max */
        int32_t i;
        for (i = 0; i < count; ++i) {
            const int32_t sa = nf_multiply(((int32_t)a[i] - params[0]) * (1 << 20), params[3], params[4]);
            const int32_t sb = nf_multiply(((int32_t)b[i] - params[1]) * (1 << 20), params[5], params[6]);
            y[i] = nf_clamp8(nf_multiply(sa + sb, params[7], params[8]) + params[2], params[9], params[10]);
        }
    }
    """

    static let cClamp = """
    /* ReLU / ReLU6 on the tensor's own grid. */
    static void nf_clamp(const int8_t *x, int8_t *y, int32_t count, int32_t lo, int32_t hi)
    {
        int32_t i;
        for (i = 0; i < count; ++i) {
            y[i] = nf_clamp8((int32_t)x[i], lo, hi);
        }
    }
    """
}
