// Layer norm and RMS norm rows on zmm (see norm_kernels.h). Why bit-identical is possible:
// FastMath's reductions keep two SIMD8 accumulators over 16 consecutive elements, so lane k of
// one 16-lane accumulator here holds exactly the Swift loop's partial sum k; the 8-element step
// adds into the low half only; the halves are added, then the 8 lanes summed one by one from
// −0 as Swift's SIMD `sum()` does; the scalar tail follows in order.
#include "norm_kernels.h"
#include <immintrin.h>
#include <math.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define NF_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

// (a0 + a1).sum() of the Swift loop: low half + high half, then lanes 0…7 in order from −0.
static inline NF_AVX512 __attribute__((always_inline)) float nf_sum16(__m512 acc) {
    const __m256 halves = _mm256_add_ps(_mm512_castps512_ps256(acc), _mm512_extractf32x8_ps(acc, 1));
    float lanes[8];
    _mm256_storeu_ps(lanes, halves);
    float s = -0.0f;
    for (int k = 0; k < 8; k++) s += lanes[k];
    return s;
}

// h[i] = x[i] (+ r[i]) for 16 lanes; mask selects the lanes read.
static inline NF_AVX512 __attribute__((always_inline)) __m512 nf_row_load(const float *x, const float *r, long i, __mmask16 mask) {
    const __m512 v = _mm512_maskz_loadu_ps(mask, x + i);
    return r ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, r + i)) : v;
}

NF_AVX512 void nf_layer_norm_avx512(const float *x, const float *residual, long first, long last, long d,
                                    const float *gamma, const float *beta, float epsilon,
                                    float *y, float *mean, float *rstd) {
    const float n = (float)d;
    const long full = d / 16 * 16;
    const int half = (d - full) >= 8;
    const long vectorEnd = full + (half ? 8 : 0);
    for (long row = first; row < last; row++) {
        const float *xr = x + row * d, *rr = residual ? residual + row * d : 0;
        float *yr = y + row * d;
        // A residual: h = x + r into y first (two more passes read it; y may be x).
        if (rr) {
            long i = 0;
            for (; i + 16 <= d; i += 16) _mm512_storeu_ps(yr + i, nf_row_load(xr, rr, i, 0xFFFF));
            if (i < d) {
                const __mmask16 m = (__mmask16)((1u << (d - i)) - 1);
                _mm512_mask_storeu_ps(yr + i, m, nf_row_load(xr, rr, i, m));
            }
            xr = yr;
        }
        // μ₀ = FastMath.sum / d.
        __m512 acc = _mm512_setzero_ps();
        long i = 0;
        for (; i < full; i += 16) acc = _mm512_add_ps(acc, _mm512_loadu_ps(xr + i));
        if (half) acc = _mm512_mask_add_ps(acc, 0x00FF, acc, _mm512_maskz_loadu_ps(0x00FF, xr + i));
        float sum = nf_sum16(acc);
        for (i = vectorEnd; i < d; i++) sum += xr[i];
        const float mu0 = sum / n;
        // FastMath.deviationSums(from: μ₀).
        const __m512 vc = _mm512_set1_ps(mu0);
        __m512 s = _mm512_setzero_ps(), q = _mm512_setzero_ps();
        for (i = 0; i < full; i += 16) {
            const __m512 dv = _mm512_sub_ps(_mm512_loadu_ps(xr + i), vc);
            s = _mm512_add_ps(s, dv);
            q = _mm512_fmadd_ps(dv, dv, q);
        }
        if (half) {
            const __m512 dv = _mm512_sub_ps(_mm512_maskz_loadu_ps(0x00FF, xr + i), vc);
            s = _mm512_mask_add_ps(s, 0x00FF, s, dv);
            q = _mm512_mask3_fmadd_ps(dv, dv, q, 0x00FF);
        }
        float deviation = nf_sum16(s), squares = nf_sum16(q);
        for (i = vectorEnd; i < d; i++) {
            const float dv = xr[i] - mu0;
            deviation += dv;
            squares = fmaf(dv, dv, squares);
        }
        const float delta = deviation / n;
        const float var0 = squares / n - delta * delta;
        const float variance = var0 > 0 ? var0 : 0;
        const float scale = 1 / sqrtf(variance + epsilon);
        if (mean) mean[row] = mu0 + delta;
        if (rstd) rstd[row] = scale;
        // y = β + ((h − μ₀) − δ) · s · γ, fused as Swift's addingProduct.
        const __m512 vmu = _mm512_set1_ps(mu0), vdelta = _mm512_set1_ps(delta), vs = _mm512_set1_ps(scale);
        for (i = 0; i < d; i += 16) {
            const __mmask16 m = d - i >= 16 ? 0xFFFF : (__mmask16)((1u << (d - i)) - 1);
            const __m512 g = gamma ? _mm512_maskz_loadu_ps(m, gamma + i) : _mm512_set1_ps(1);
            const __m512 b = beta ? _mm512_maskz_loadu_ps(m, beta + i) : _mm512_setzero_ps();
            const __m512 t = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr + i), vmu), vdelta), vs);
            _mm512_mask_storeu_ps(yr + i, m, _mm512_fmadd_ps(t, g, b));
        }
    }
}

NF_AVX512 void nf_rms_norm_avx512(const float *x, long first, long last, long d, const float *gamma, float epsilon,
                                  float *y, float *rstd) {
    const float n = (float)d;
    const long full = d / 16 * 16;
    const int half = (d - full) >= 8;
    const long vectorEnd = full + (half ? 8 : 0);
    for (long row = first; row < last; row++) {
        const float *xr = x + row * d;
        float *yr = y + row * d;
        // FastMath.dot(x, x).
        __m512 acc = _mm512_setzero_ps();
        long i = 0;
        for (; i < full; i += 16) {
            const __m512 v = _mm512_loadu_ps(xr + i);
            acc = _mm512_fmadd_ps(v, v, acc);
        }
        if (half) {
            const __m512 v = _mm512_maskz_loadu_ps(0x00FF, xr + i);
            acc = _mm512_mask3_fmadd_ps(v, v, acc, 0x00FF);
        }
        float dot = nf_sum16(acc);
        for (i = vectorEnd; i < d; i++) dot = fmaf(xr[i], xr[i], dot);
        const float scale = 1 / sqrtf(dot / n + epsilon);
        if (rstd) rstd[row] = scale;
        const __m512 vs = _mm512_set1_ps(scale);
        for (i = 0; i < d; i += 16) {
            const __mmask16 m = d - i >= 16 ? 0xFFFF : (__mmask16)((1u << (d - i)) - 1);
            const __m512 g = gamma ? _mm512_maskz_loadu_ps(m, gamma + i) : _mm512_set1_ps(1);
            _mm512_mask_storeu_ps(yr + i, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, xr + i), vs), g));
        }
    }
}
