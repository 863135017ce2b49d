// AVX2 block dot products (the ggml x86 kernels' arithmetic): exact integer sums per block via
// vpmaddubsw/vpmaddwd, the block scale products accumulated in float with FMA. Same result as the
// plain loops up to the order of the float additions.
#include "ggml_blocks.h"

/// Σ of unsigned × signed byte pairs in 8 int32 lanes (no saturation for |u| ≤ 128, |s| ≤ 127).
static inline __m256i nf_sum_us8(__m256i u, __m256i s) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/// Σ of signed × signed byte pairs: |x| × (y with x's sign).
static inline __m256i nf_sum_ss8(__m256i x, __m256i y) {
    return nf_sum_us8(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

float nf_dot_q4_0_avx2(long n, const void *vx, const void *vy) {
    const nf_block_q4_0 *x = vx; const nf_block_q8_0 *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        const __m256i qx = _mm256_sub_epi8(nf_nibbles32(x[ib].qs), _mm256_set1_epi8(8));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[ib].qs);
        const __m256 d = _mm256_set1_ps(nf_f16(x[ib].d) * nf_f16(y[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(nf_sum_ss8(qx, qy)), acc);
    }
    return nf_hsum8(acc);
}

float nf_dot_q4_1_avx2(long n, const void *vx, const void *vy) {
    const nf_block_q4_1 *x = vx; const nf_block_q8_1 *y = vy;
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[ib].qs);
        const __m256 d = _mm256_set1_ps(nf_f16(x[ib].d) * nf_f16(y[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(nf_sum_us8(nf_nibbles32(x[ib].qs), qy)), acc);
        mins += nf_f16(x[ib].m) * nf_f16(y[ib].s);
    }
    return nf_hsum8(acc) + mins;
}

float nf_dot_q8_0_avx2(long n, const void *vx, const void *vy) {
    const nf_block_q8_0 *x = vx; const nf_block_q8_0 *y = vy;
    __m256 acc = _mm256_setzero_ps();
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        const __m256i qx = _mm256_loadu_si256((const __m256i *)x[ib].qs);
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[ib].qs);
        const __m256 d = _mm256_set1_ps(nf_f16(x[ib].d) * nf_f16(y[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(nf_sum_ss8(qx, qy)), acc);
    }
    return nf_hsum8(acc);
}

float nf_dot_iq4_nl_avx2(long n, const void *vx, const void *vy) {
    const nf_block_iq4_nl *x = vx; const nf_block_q8_0 *y = vy;
    const __m128i table = _mm_loadu_si128((const __m128i *)nf_kvalues_iq4nl);
    const __m256i lut = _mm256_set_m128i(table, table);
    __m256 acc = _mm256_setzero_ps();
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        const __m256i qx = _mm256_shuffle_epi8(lut, nf_nibbles32(x[ib].qs));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[ib].qs);
        const __m256 d = _mm256_set1_ps(nf_f16(x[ib].d) * nf_f16(y[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(nf_sum_ss8(qx, qy)), acc);
    }
    return nf_hsum8(acc);
}

float nf_dot_q4_K_avx2(long n, const void *vx, const void *vy) {
    const nf_block_q4_K *x = vx; const nf_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F);
    __m256 acc = _mm256_setzero_ps();
    float accMins = 0;
    for (long i = 0; i < n / NF_QK_K; ++i) {
        uint8_t scales[8], mins[8];
        nf_q4_K_scales(x[i].scales, scales, mins);
        int summ = 0;
        for (int j = 0; j < 16; ++j) summ += y[i].bsums[j] * mins[j / 2];
        __m256i sumi = _mm256_setzero_si256();
        for (int j = 0; j < 4; ++j) {
            const __m256i q4 = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * j));
            const __m256i lo = _mm256_and_si256(q4, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q4, 4), m4);
            const __m256i q8l = _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * j));
            const __m256i q8h = _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * j + 32));
            const __m256i pl = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, q8l), _mm256_set1_epi16(scales[2 * j]));
            const __m256i ph = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, q8h), _mm256_set1_epi16(scales[2 * j + 1]));
            sumi = _mm256_add_epi32(sumi, _mm256_add_epi32(pl, ph));
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(nf_f16(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
        accMins += nf_f16(x[i].dmin) * y[i].d * summ;
    }
    return nf_hsum8(acc) - accMins;
}

float nf_dot_q6_K_avx2(long n, const void *vx, const void *vy) {
    const nf_block_q6_K *x = vx; const nf_block_q8_K *y = vy;
    const __m256i m4 = _mm256_set1_epi8(0x0F), m2 = _mm256_set1_epi8(0x30), m32 = _mm256_set1_epi8(32);
    __m256 acc = _mm256_setzero_ps();
    for (long i = 0; i < n / NF_QK_K; ++i) {
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        const int8_t *q8 = y[i].qs, *sc = x[i].scales;
        __m256i sumi = _mm256_setzero_si256();
        for (int half = 0; half < 2; ++half, ql += 64, qh += 32, q8 += 128, sc += 8) {
            const __m256i b1 = _mm256_loadu_si256((const __m256i *)ql), b2 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            const __m256i h = _mm256_loadu_si256((const __m256i *)qh);
            // Values 0..63 of the four 32-element runs (elements l, l+32, l+64, l+96).
            const __m256i q[4] = {
                _mm256_or_si256(_mm256_and_si256(b1, m4), _mm256_and_si256(_mm256_slli_epi16(h, 4), m2)),
                _mm256_or_si256(_mm256_and_si256(b2, m4), _mm256_and_si256(_mm256_slli_epi16(h, 2), m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b1, 4), m4), _mm256_and_si256(h, m2)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(b2, 4), m4), _mm256_and_si256(_mm256_srli_epi16(h, 2), m2)),
            };
            for (int k = 0; k < 4; ++k) {
                const __m256i y8 = _mm256_loadu_si256((const __m256i *)(q8 + 32 * k));
                // (q − 32) · y as q · y − 32 · y: both maddubs stay below the int16 limit.
                const __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(q[k], y8), _mm256_maddubs_epi16(m32, y8));
                const __m256i s = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(nf_f16(x[i].d) * y[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return nf_hsum8(acc);
}
