// AVX-512 VNNI tiles of four weight rows against one input row (decoding) or four (a prompt's
// GEMM): each input block is loaded, and its per-block integer correction computed, once for the
// four weight rows; each weight block is unpacked once for the four input rows. Per (weight row,
// input row) pair the int32 lanes, the float terms and their order are exactly those of the
// one-row kernel of the path (ggml_dot_vnni.c), so a token's outputs do not depend on whether it
// came in a prompt or alone:
// - Q4_0: q·y − 8·y per lane, with −8·y computed once per input block and passed to vpdpbusd as
//   its accumulator;
// - Q4_1: q·y per lane, the min term m·s added as a scalar per block as before;
// - Q8_0: |x| · (y with x's sign), as the one-row kernel.
#include "ggml_blocks.h"

#define NF_TILE_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

// R input rows (1 or 4) × 4 weight rows; out[w * R + r].
#define NF_DEFINE_TILE_Q4_0(NAME, R)                                                                       \
    NF_TILE_VNNI void NAME(long n, const void *const vx[4], const void *const vy[R], float *out) {         \
        const nf_block_q4_0 *x[4] = {vx[0], vx[1], vx[2], vx[3]};                                          \
        const nf_block_q8_0 *y[R];                                                                         \
        for (int r = 0; r < R; ++r) y[r] = vy[r];                                                          \
        __m256 acc[4][R];                                                                                  \
        for (int w = 0; w < 4; ++w) for (int r = 0; r < R; ++r) acc[w][r] = _mm256_setzero_ps();           \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            __m256i q[4]; float dx[4];                                                                     \
            for (int w = 0; w < 4; ++w) { q[w] = nf_nibbles32(x[w][ib].qs); dx[w] = nf_f16(x[w][ib].d); } \
            for (int r = 0; r < R; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const __m256i minus8y = _mm256_sub_epi32(_mm256_setzero_si256(),                           \
                    _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(8), qy));                 \
                const float dy = nf_f16(y[r][ib].d);                                                       \
                for (int w = 0; w < 4; ++w) {                                                              \
                    const __m256i s = _mm256_dpbusd_epi32(minus8y, q[w], qy);                              \
                    acc[w][r] = _mm256_fmadd_ps(_mm256_set1_ps(dx[w] * dy), _mm256_cvtepi32_ps(s), acc[w][r]); \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int w = 0; w < 4; ++w) for (int r = 0; r < R; ++r) out[w * R + r] = nf_hsum8(acc[w][r]);  \
    }

#define NF_DEFINE_TILE_Q4_1(NAME, R)                                                                       \
    NF_TILE_VNNI void NAME(long n, const void *const vx[4], const void *const vy[R], float *out) {         \
        const nf_block_q4_1 *x[4] = {vx[0], vx[1], vx[2], vx[3]};                                          \
        const nf_block_q8_1 *y[R];                                                                         \
        for (int r = 0; r < R; ++r) y[r] = vy[r];                                                          \
        __m256 acc[4][R];                                                                                  \
        float mins[4][R];                                                                                  \
        for (int w = 0; w < 4; ++w) for (int r = 0; r < R; ++r) { acc[w][r] = _mm256_setzero_ps(); mins[w][r] = 0; } \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            __m256i q[4]; float dx[4], mx[4];                                                              \
            for (int w = 0; w < 4; ++w) {                                                                  \
                q[w] = nf_nibbles32(x[w][ib].qs); dx[w] = nf_f16(x[w][ib].d); mx[w] = nf_f16(x[w][ib].m); \
            }                                                                                              \
            for (int r = 0; r < R; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const float dy = nf_f16(y[r][ib].d), sy = nf_f16(y[r][ib].s);                              \
                for (int w = 0; w < 4; ++w) {                                                              \
                    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), q[w], qy);               \
                    acc[w][r] = _mm256_fmadd_ps(_mm256_set1_ps(dx[w] * dy), _mm256_cvtepi32_ps(s), acc[w][r]); \
                    mins[w][r] += mx[w] * sy;                                                              \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int w = 0; w < 4; ++w)                                                                        \
            for (int r = 0; r < R; ++r) out[w * R + r] = nf_hsum8(acc[w][r]) + mins[w][r];            \
    }

#define NF_DEFINE_TILE_Q8_0(NAME, R)                                                                       \
    NF_TILE_VNNI void NAME(long n, const void *const vx[4], const void *const vy[R], float *out) {         \
        const nf_block_q8_0 *x[4] = {vx[0], vx[1], vx[2], vx[3]};                                          \
        const nf_block_q8_0 *y[R];                                                                         \
        for (int r = 0; r < R; ++r) y[r] = vy[r];                                                          \
        __m256 acc[4][R];                                                                                  \
        for (int w = 0; w < 4; ++w) for (int r = 0; r < R; ++r) acc[w][r] = _mm256_setzero_ps();           \
        for (long ib = 0; ib < n / NF_QK; ++ib) {                                                          \
            __m256i qx[4], ax[4]; float dx[4];                                                             \
            for (int w = 0; w < 4; ++w) {                                                                  \
                qx[w] = _mm256_loadu_si256((const __m256i *)x[w][ib].qs);                                  \
                ax[w] = _mm256_sign_epi8(qx[w], qx[w]); dx[w] = nf_f16(x[w][ib].d);                        \
            }                                                                                              \
            for (int r = 0; r < R; ++r) {                                                                  \
                const __m256i qy = _mm256_loadu_si256((const __m256i *)y[r][ib].qs);                       \
                const float dy = nf_f16(y[r][ib].d);                                                       \
                for (int w = 0; w < 4; ++w) {                                                              \
                    const __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), ax[w], _mm256_sign_epi8(qy, qx[w])); \
                    acc[w][r] = _mm256_fmadd_ps(_mm256_set1_ps(dx[w] * dy), _mm256_cvtepi32_ps(s), acc[w][r]); \
                }                                                                                          \
            }                                                                                              \
        }                                                                                                  \
        for (int w = 0; w < 4; ++w) for (int r = 0; r < R; ++r) out[w * R + r] = nf_hsum8(acc[w][r]);  \
    }

NF_DEFINE_TILE_Q4_0(nf_dot41_q4_0_vnni, 1)
NF_DEFINE_TILE_Q4_0(nf_dot44_q4_0_vnni, 4)
NF_DEFINE_TILE_Q4_1(nf_dot41_q4_1_vnni, 1)
NF_DEFINE_TILE_Q4_1(nf_dot44_q4_1_vnni, 4)
NF_DEFINE_TILE_Q8_0(nf_dot41_q8_0_vnni, 1)
NF_DEFINE_TILE_Q8_0(nf_dot44_q8_0_vnni, 4)
