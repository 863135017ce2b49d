// See attention_kernels.h. Register blocking: 4 query rows × up to 4 zmm of keys (16
// accumulators) for the scores, 4 probability rows × up to 4 zmm of channels for the context.
// Rows past t in a block repeat the last row and are not stored.
#include "attention_kernels.h"
#include "fastmath_kernels.h"
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define NF_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define NF_INLINE static inline NF_AVX512 __attribute__((always_inline))

static inline long nf_min(long a, long b) { return a < b ? a : b; }

static inline __mmask16 nf_mask(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

// scores rows r0…r3 (pointers), key columns [j, j + 16·NV): Σ_c q[r, c] · kT[c, j…] from zero, times scale.
NF_INLINE void nf_scores_block(const float *q0, const float *q1, const float *q2, const float *q3, const float *kT, long tp,
                               long d, long j, const int nv, __m512 scale, float *s0, float *s1, float *s2, float *s3, int rows) {
    __m512 a[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) a[r][u] = _mm512_setzero_ps();
    const float *p = kT + j;
    for (long c = 0; c < d; c++, p += tp) {
        __m512 k[4];
        for (int u = 0; u < nv; u++) k[u] = _mm512_loadu_ps(p + 16 * u);
        const __m512 b0 = _mm512_set1_ps(q0[c]), b1 = _mm512_set1_ps(q1[c]), b2 = _mm512_set1_ps(q2[c]), b3 = _mm512_set1_ps(q3[c]);
        for (int u = 0; u < nv; u++) {
            a[0][u] = _mm512_fmadd_ps(b0, k[u], a[0][u]);
            a[1][u] = _mm512_fmadd_ps(b1, k[u], a[1][u]);
            a[2][u] = _mm512_fmadd_ps(b2, k[u], a[2][u]);
            a[3][u] = _mm512_fmadd_ps(b3, k[u], a[3][u]);
        }
    }
    float *out[4] = {s0, s1, s2, s3};
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < nv; u++) _mm512_storeu_ps(out[r] + j + 16 * u, _mm512_mul_ps(a[r][u], scale));
}

// out rows r0…r3, channels [c, c + 16·NV) (the last vector masked by `last`): Σ_j p[r, j] · v[j, c…] from zero.
NF_INLINE void nf_context_block(const float *p0, const float *p1, const float *p2, const float *p3, const float *v, long d,
                                long t, long c, const int nv, __mmask16 last, float *o0, float *o1, float *o2, float *o3, int rows) {
    __m512 a[4][4];
    for (int r = 0; r < 4; r++)
        for (int u = 0; u < 4; u++) a[r][u] = _mm512_setzero_ps();
    const float *vp = v + c;
    for (long j = 0; j < t; j++, vp += d) {
        __m512 x[4];
        for (int u = 0; u < nv; u++) x[u] = _mm512_maskz_loadu_ps(u == nv - 1 ? last : (__mmask16)0xFFFF, vp + 16 * u);
        const __m512 b0 = _mm512_set1_ps(p0[j]), b1 = _mm512_set1_ps(p1[j]), b2 = _mm512_set1_ps(p2[j]), b3 = _mm512_set1_ps(p3[j]);
        for (int u = 0; u < nv; u++) {
            a[0][u] = _mm512_fmadd_ps(b0, x[u], a[0][u]);
            a[1][u] = _mm512_fmadd_ps(b1, x[u], a[1][u]);
            a[2][u] = _mm512_fmadd_ps(b2, x[u], a[2][u]);
            a[3][u] = _mm512_fmadd_ps(b3, x[u], a[3][u]);
        }
    }
    float *out[4] = {o0, o1, o2, o3};
    for (int r = 0; r < rows; r++)
        for (int u = 0; u < nv; u++) _mm512_mask_storeu_ps(out[r] + c + 16 * u, u == nv - 1 ? last : (__mmask16)0xFFFF, a[r][u]);
}

// RuntimeAttention.softmaxRow: max, e^(s − m) (FastMath.exp's bits), the sum as the Swift SIMD8 loop adds it, then · 1/sum.
NF_INLINE void nf_softmax_row(float *s, long n) {
    __m512 m16 = _mm512_set1_ps(-__builtin_inff());
    long j = 0;
    for (; j + 16 <= n; j += 16) m16 = _mm512_max_ps(_mm512_loadu_ps(s + j), m16);
    if (j < n) m16 = _mm512_mask_max_ps(m16, nf_mask(n - j), _mm512_maskz_loadu_ps(nf_mask(n - j), s + j), m16);
    const float m = _mm512_reduce_max_ps(m16);
    nf_exp_shifted_avx512(s, m, s, n);
    __m256 t8 = _mm256_setzero_ps();
    j = 0;
    for (; j + 8 <= n; j += 8) t8 = _mm256_add_ps(t8, _mm256_loadu_ps(s + j));
    float lanes[8];
    _mm256_storeu_ps(lanes, t8);
    float total = -0.0f;
    for (int k = 0; k < 8; k++) total += lanes[k];
    for (; j < n; j++) total += s[j];
    const __m512 inverse = _mm512_set1_ps(1 / total);
    for (j = 0; j < n; j += 16) {
        const __mmask16 k = nf_mask(n - j);
        _mm512_mask_storeu_ps(s + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, s + j), inverse));
    }
}

NF_AVX512 void nf_attention_head_avx512(const float *q, const float *kT, const float *v, long t, long tp, long d, float scale,
                                        long valid, float masked, float *scores, float *out, long outStride) {
    const __m512 vs = _mm512_set1_ps(scale);
    for (long i = 0; i < t; i += 4) {
        const int rows = (int)nf_min(4, t - i);
        const float *q0 = q + i * d, *q1 = q + (i + (rows > 1)) * d, *q2 = q + (i + (rows > 2) * 2) * d, *q3 = q + (i + (rows > 3) * 3) * d;
        float *s0 = scores + i * tp, *s1 = s0 + tp, *s2 = s1 + tp, *s3 = s2 + tp;
        long j = 0;
        for (; j + 64 <= tp; j += 64) nf_scores_block(q0, q1, q2, q3, kT, tp, d, j, 4, vs, s0, s1, s2, s3, rows);
        switch ((tp - j) / 16) {
        case 3: nf_scores_block(q0, q1, q2, q3, kT, tp, d, j, 3, vs, s0, s1, s2, s3, rows); break;
        case 2: nf_scores_block(q0, q1, q2, q3, kT, tp, d, j, 2, vs, s0, s1, s2, s3, rows); break;
        case 1: nf_scores_block(q0, q1, q2, q3, kT, tp, d, j, 1, vs, s0, s1, s2, s3, rows); break;
        default: break;
        }
    }
    // Only the sentence's own keys take part, so a row's bits do not depend on how far the batch
    // pads it (a padded key's weight would be exactly 0, but it changes the order of the sums).
    // A sentence with no valid key keeps the old all-masked form: uniform weights.
    const long keys = valid > 0 ? valid : t;
    for (long i = 0; i < t; i++) {
        float *s = scores + i * tp;
        if (valid <= 0) for (long j = 0; j < t; j++) s[j] += masked;
        nf_softmax_row(s, keys);
    }
    for (long i = 0; i < t; i += 4) {
        const int rows = (int)nf_min(4, t - i);
        const float *p0 = scores + i * tp, *p1 = p0 + (rows > 1) * tp, *p2 = p0 + (rows > 2) * 2 * tp, *p3 = p0 + (rows > 3) * 3 * tp;
        float *o0 = out + i * outStride, *o1 = o0 + outStride, *o2 = o1 + outStride, *o3 = o2 + outStride;
        long c = 0;
        for (; c + 64 <= d; c += 64) nf_context_block(p0, p1, p2, p3, v, d, keys, c, 4, 0xFFFF, o0, o1, o2, o3, rows);
        const long rest = d - c;
        if (rest > 0) {
            const __mmask16 last = nf_mask(rest - (rest - 1) / 16 * 16);
            switch ((rest + 15) / 16) {
            case 3: nf_context_block(p0, p1, p2, p3, v, d, keys, c, 3, last, o0, o1, o2, o3, rows); break;
            case 2: nf_context_block(p0, p1, p2, p3, v, d, keys, c, 2, last, o0, o1, o2, o3, rows); break;
            case 1: nf_context_block(p0, p1, p2, p3, v, d, keys, c, 1, last, o0, o1, o2, o3, rows); break;
            default: break;
            }
        }
    }
}
