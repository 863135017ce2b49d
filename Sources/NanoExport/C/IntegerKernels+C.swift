import NanoQuant

/// The C99 twins of `IntegerKernels` (`static` in `model.c`).
extension IntegerKernels {
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
    /* Convolution of output rows [y0, y1); depth_multiplier 0: weights [out][kh][kw][in], else
       depthwise [out][kh][kw]. Input row iy lives in slot iy % in_ring, output row oy in slot
       oy % out_ring (a ring of rows; the tensor's height when it is kept whole). */
    static void nf_convolution(const int8_t *x, int8_t *y, const nf_window *g, const int8_t *w, const int32_t *bias,
                               const int32_t *multipliers, const int8_t *shifts, int32_t depth_multiplier,
                               int32_t input_zp, int32_t output_zp, int32_t act_min, int32_t act_max,
                               int32_t y0, int32_t y1, int32_t in_ring, int32_t out_ring)
    {
        const int32_t taps = g->k_h * g->k_w;
        int32_t oy, ox, o, ky, kx, c;
        for (oy = y0; oy < y1; ++oy) {
            for (ox = 0; ox < g->out_w; ++ox) {
                int8_t *out = y + ((size_t)(oy % out_ring) * (size_t)g->out_w + (size_t)ox) * (size_t)g->out_c;
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
                            pixel = x + ((size_t)(iy % in_ring) * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c;
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
    /* Max pooling of output rows [y0, y1) on the input's grid (rows in rings as for
       nf_convolution); padding positions are skipped. */
    static void nf_max_pool(const int8_t *x, int8_t *y, const nf_window *g, int32_t y0, int32_t y1, int32_t in_ring, int32_t out_ring)
    {
        int32_t oy, ox, c, ky, kx;
        for (oy = y0; oy < y1; ++oy) {
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
                            v = x[((size_t)(iy % in_ring) * (size_t)g->in_w + (size_t)ix) * (size_t)g->in_c + (size_t)c];
                            if (v > m) {
                                m = v;
                            }
                        }
                    }
                    y[((size_t)(oy % out_ring) * (size_t)g->out_w + (size_t)ox) * (size_t)g->out_c + (size_t)c] = m;
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
    /* TFLite int8 Add of rows [y0, y1) (row_len values each; rings: slot counts of a, b, y): both
       inputs shifted left by 20, rescaled to a common scale, summed, requantized. */
    static void nf_add(const int8_t *a, const int8_t *b, int8_t *y, int32_t row_len, int32_t y0, int32_t y1,
                       const int32_t *rings, const int32_t *params)
    {
        /* params: a_zp, b_zp, y_zp, a_mult, a_shift, b_mult, b_shift, y_mult, y_shift, act_min, act_max */
        int32_t r, i;
        for (r = y0; r < y1; ++r) {
            const int8_t *ar = a + (size_t)(r % rings[0]) * (size_t)row_len, *br = b + (size_t)(r % rings[1]) * (size_t)row_len;
            int8_t *yr = y + (size_t)(r % rings[2]) * (size_t)row_len;
            for (i = 0; i < row_len; ++i) {
                const int32_t sa = nf_multiply(((int32_t)ar[i] - params[0]) * (1 << 20), params[3], params[4]);
                const int32_t sb = nf_multiply(((int32_t)br[i] - params[1]) * (1 << 20), params[5], params[6]);
                yr[i] = nf_clamp8(nf_multiply(sa + sb, params[7], params[8]) + params[2], params[9], params[10]);
            }
        }
    }
    """

    static let cClamp = """
    /* ReLU / ReLU6 of rows [y0, y1) (row_len values each, rings as for nf_add) on the tensor's own grid. */
    static void nf_clamp(const int8_t *x, int8_t *y, int32_t row_len, int32_t y0, int32_t y1, int32_t x_ring, int32_t y_ring,
                         int32_t lo, int32_t hi)
    {
        int32_t r, i;
        for (r = y0; r < y1; ++r) {
            const int8_t *xr = x + (size_t)(r % x_ring) * (size_t)row_len;
            int8_t *yr = y + (size_t)(r % y_ring) * (size_t)row_len;
            for (i = 0; i < row_len; ++i) {
                yr[i] = nf_clamp8((int32_t)xr[i], lo, hi);
            }
        }
    }
    """
}
