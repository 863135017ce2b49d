// One weight row against four input rows at once (the prompt's matrix products): each weight
// block is loaded, unpacked and its scale converted once for four dot products. Same integer block
// sums and the same per-block float terms as the one-row kernels; per row, the same additions
// in the same order as the one-row kernel of the same path.
#include "ggml_blocks.h"

// Integer block sums per path: u × s bytes (unsigned weights), s × s bytes (signed weights).
#define NF_US_AVX2(u, s) _mm256_madd_epi16(_mm256_maddubs_epi16((u), (s)), _mm256_set1_epi16(1))
#define NF_SS_AVX2(x, y) NF_US_AVX2(_mm256_sign_epi8((x), (x)), _mm256_sign_epi8((y), (x)))

// Q4_0 as nf_dot_q4_0_avx2 (signed q − 8).
#define NF_Q4_0_SUM_AVX2(qu, qy) NF_SS_AVX2(_mm256_sub_epi8((qu), _mm256_set1_epi8(8)), (qy))

#define NF_DEFINE_X4_Q4_0(NAME, ATTR, SUM)                                                                 \
    ATTR void NAME(long n, const void *vx, const void *const vy[4], float out[4]) {                        \
        const nf_block_q4_0 *x = vx;                                                                       \
        const nf_block_q8_0 *y[4] = {vy[0], vy[1], vy[2], vy[3]};                                          \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            const __m256i qu = nf_nibbles32(x[ib].qs);                                                    \
            const float dx = nf_f16(x[ib].d);                                                              \
            for (int r = 0; r < 4; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const __m256 d = _mm256_set1_ps(dx * nf_f16(y[r][ib].d));                                  \
                acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(SUM(qu, qy)), acc[r]);                      \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < 4; ++r) out[r] = nf_hsum8(acc[r]);                                           \
    }

#define NF_DEFINE_X4_Q4_1(NAME, ATTR, US)                                                                  \
    ATTR void NAME(long n, const void *vx, const void *const vy[4], float out[4]) {                        \
        const nf_block_q4_1 *x = vx;                                                                       \
        const nf_block_q8_1 *y[4] = {vy[0], vy[1], vy[2], vy[3]};                                          \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        float mins[4] = {0, 0, 0, 0};                                                                      \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            const __m256i qu = nf_nibbles32(x[ib].qs);                                                    \
            const float dx = nf_f16(x[ib].d), mx = nf_f16(x[ib].m);                                        \
            for (int r = 0; r < 4; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const __m256 d = _mm256_set1_ps(dx * nf_f16(y[r][ib].d));                                  \
                acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(US(qu, qy)), acc[r]);                       \
                mins[r] += mx * nf_f16(y[r][ib].s);                                                        \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < 4; ++r) out[r] = nf_hsum8(acc[r]) + mins[r];                                 \
    }

#define NF_DEFINE_X4_Q8_0(NAME, ATTR, SS)                                                                  \
    ATTR void NAME(long n, const void *vx, const void *const vy[4], float out[4]) {                        \
        const nf_block_q8_0 *x = vx;                                                                       \
        const nf_block_q8_0 *y[4] = {vy[0], vy[1], vy[2], vy[3]};                                          \
        __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}; \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            const __m256i qx = _mm256_loadu_si256((const __m256i *)x[ib].qs);                              \
            const __m256i ax = _mm256_sign_epi8(qx, qx);                                                   \
            const float dx = nf_f16(x[ib].d);                                                              \
            for (int r = 0; r < 4; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const __m256 d = _mm256_set1_ps(dx * nf_f16(y[r][ib].d));                                  \
                acc[r] = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(SS(ax, _mm256_sign_epi8(qy, qx))), acc[r]); \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < 4; ++r) out[r] = nf_hsum8(acc[r]);                                           \
    }

#define NF_PLAIN
#define NF_Q8_US_AVX2(ax, sy) NF_US_AVX2((ax), (sy))

NF_DEFINE_X4_Q4_0(nf_dot4_q4_0_avx2, NF_PLAIN, NF_Q4_0_SUM_AVX2)
NF_DEFINE_X4_Q4_1(nf_dot4_q4_1_avx2, NF_PLAIN, NF_US_AVX2)
NF_DEFINE_X4_Q8_0(nf_dot4_q8_0_avx2, NF_PLAIN, NF_Q8_US_AVX2)

// Two weight rows × four input rows (a 2×4 tile): each input block is loaded and its scale
// converted once for both weight rows. Per (weight row, input row) pair the same operations in the
// same order as the one-row kernel of the path.
#define NF_DEFINE_X24(NAME, ATTR, WBLOCK, YBLOCK, UNPACK, SUM, HASMIN)                                     \
    ATTR void NAME(long n, const void *vx0, const void *vx1, const void *const vy[4], float out0[4],       \
                   float out1[4]) {                                                                        \
        const WBLOCK *x[2] = {vx0, vx1};                                                                   \
        const YBLOCK *y[4] = {vy[0], vy[1], vy[2], vy[3]};                                                 \
        __m256 acc[2][4];                                                                                  \
        float mins[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};                                                   \
        for (int w = 0; w < 2; ++w) for (int r = 0; r < 4; ++r) acc[w][r] = _mm256_setzero_ps();           \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            const __m256i q0 = UNPACK(x[0][ib].qs), q1 = UNPACK(x[1][ib].qs);                              \
            const float d0 = nf_f16(x[0][ib].d), d1 = nf_f16(x[1][ib].d);                                  \
            for (int r = 0; r < 4; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const float dy = nf_f16(y[r][ib].d);                                                       \
                acc[0][r] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * dy), _mm256_cvtepi32_ps(SUM(q0, qy)), acc[0][r]); \
                acc[1][r] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * dy), _mm256_cvtepi32_ps(SUM(q1, qy)), acc[1][r]); \
                HASMIN(mins, x, y, ib, r)                                                                  \
            }                                                                                              \
        }                                                                                                  \
        for (int r = 0; r < 4; ++r) {                                                                      \
            out0[r] = nf_hsum8(acc[0][r]) + mins[0][r];                                                  \
            out1[r] = nf_hsum8(acc[1][r]) + mins[1][r];                                                  \
        }                                                                                                  \
    }

#define NF_NO_MIN(mins, x, y, ib, r)
#define NF_Q4_1_MIN(mins, x, y, ib, r)                                                                     \
    { const float s = nf_f16(y[r][ib].s);                                                                  \
      mins[0][r] += nf_f16(x[0][ib].m) * s; mins[1][r] += nf_f16(x[1][ib].m) * s; }
#define NF_LOAD32(qs) _mm256_loadu_si256((const __m256i *)(qs))
#define NF_Q8_SUM_AVX2(qx, qy) NF_SS_AVX2((qx), (qy))

NF_DEFINE_X24(nf_dot24_q4_0_avx2, NF_PLAIN, nf_block_q4_0, nf_block_q8_0, nf_nibbles32, NF_Q4_0_SUM_AVX2, NF_NO_MIN)
NF_DEFINE_X24(nf_dot24_q4_1_avx2, NF_PLAIN, nf_block_q4_1, nf_block_q8_1, nf_nibbles32, NF_US_AVX2, NF_Q4_1_MIN)
NF_DEFINE_X24(nf_dot24_q8_0_avx2, NF_PLAIN, nf_block_q8_0, nf_block_q8_0, NF_LOAD32, NF_Q8_SUM_AVX2, NF_NO_MIN)
