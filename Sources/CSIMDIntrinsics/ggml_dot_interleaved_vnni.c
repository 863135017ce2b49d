// AVX-512 VNNI dot products on 16 interleaved weight rows (ggml_interleaved.c): one zmm lane per
// weight row, so each vpdpbusd multiplies 4 codes of 16 rows by 4 broadcast input codes, and the
// block's scales apply to 16 rows in one vector operation. The row-at-a-time kernels spent more
// instructions on per-block float work (convert, scale, FMA of 8 partial lanes) than on the
// integer products; here the float work is one vector per 16 rows.
//
// Per (weight row, input row) the arithmetic is exactly the plain loops' (ggml_dot_reference.c):
// an exact int32 block sum, converted to float, then the reference's scale operations in its
// order. So every output equals `nf_dot_*_ref`'s bit for bit, whether the input row came alone
// (decoding) or with others (a prompt).
// - Q4_0: codes as unsigned nibbles 0..15; the −8 offset is −8·Σy, seeded into the accumulator.
// - Q8_0: codes stored as x + 128 (unsigned); −128·Σy seeded likewise.
// - Q4_1: unsigned nibbles; the minimum term m·s as the reference adds it.
#include <stdlib.h>
#include "ggml_blocks.h"
#include "ggml_dot_kernels.h"

#define NF_GROUP_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,f16c")))

NF_GROUP_VNNI static inline __attribute__((always_inline)) __m512i nf_bcast4(const int8_t *q) {
    int32_t v;
    memcpy(&v, q, 4);
    return _mm512_set1_epi32(v);
}

/// The integer sums the offset corrections need: sums[i · nb + ib] = Σ of input row i's block ib codes.
static void nf_input_sums(const uint8_t *y, size_t yRowBytes, long m, long nb, int32_t *sums) {
    for (long i = 0; i < m; ++i)
        for (long ib = 0; ib < nb; ++ib) {
            const nf_block_q8_0 *b = (const nf_block_q8_0 *)(y + i * yRowBytes) + ib;
            int32_t s = 0;
            for (int k = 0; k < 32; ++k) s += b->qs[k];
            sums[i * nb + ib] = s;
        }
}

// 16 weight rows × R input rows; out[r · 16 + w].
#define NF_DEFINE_GROUP_Q4_0(NAME, R)                                                                  \
    NF_GROUP_VNNI static void NAME(long nb, const uint8_t *g, const nf_block_q8_0 *const y[R],          \
                                   const int32_t *const sums[R], float *out) {                         \
        __m512 acc[R];                                                                                  \
        for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();                                      \
        const __m512i low = _mm512_set1_epi8(0x0F);                                                     \
        for (long ib = 0; ib < nb; ++ib, g += 288) {                                                    \
            const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));                  \
            __m512i lo[4], hi[4];                                                                       \
            for (int j = 0; j < 4; ++j) {                                                               \
                const __m512i v = _mm512_loadu_si512(g + 32 + 64 * j);                                  \
                lo[j] = _mm512_and_si512(v, low);                                                       \
                hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);                                 \
            }                                                                                           \
            for (int r = 0; r < R; ++r) {                                                               \
                const int8_t *q = y[r][ib].qs;                                                          \
                __m512i s0 = _mm512_set1_epi32(-8 * sums[r][ib]), s1 = _mm512_setzero_si512();          \
                for (int j = 0; j < 4; ++j) {                                                           \
                    s0 = _mm512_dpbusd_epi32(s0, lo[j], nf_bcast4(q + 4 * j));                          \
                    s1 = _mm512_dpbusd_epi32(s1, hi[j], nf_bcast4(q + 16 + 4 * j));                     \
                }                                                                                       \
                /* reference: sumf = fma(sumi · dx, dy, sumf) */                                         \
                const __m512 t = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), dx);        \
                acc[r] = _mm512_fmadd_ps(t, _mm512_set1_ps(nf_f16(y[r][ib].d)), acc[r]);                 \
            }                                                                                           \
        }                                                                                               \
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + 16 * r, acc[r]);                             \
    }

#define NF_DEFINE_GROUP_Q8_0(NAME, R)                                                                  \
    NF_GROUP_VNNI static void NAME(long nb, const uint8_t *g, const nf_block_q8_0 *const y[R],          \
                                   const int32_t *const sums[R], float *out) {                         \
        __m512 acc[R];                                                                                  \
        for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();                                      \
        for (long ib = 0; ib < nb; ++ib, g += 544) {                                                    \
            const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));                  \
            __m512i w[8];                                                                               \
            for (int j = 0; j < 8; ++j) w[j] = _mm512_loadu_si512(g + 32 + 64 * j);                     \
            for (int r = 0; r < R; ++r) {                                                               \
                const int8_t *q = y[r][ib].qs;                                                          \
                __m512i s0 = _mm512_set1_epi32(-128 * sums[r][ib]), s1 = _mm512_setzero_si512();        \
                for (int j = 0; j < 8; j += 2) {                                                        \
                    s0 = _mm512_dpbusd_epi32(s0, w[j], nf_bcast4(q + 4 * j));                           \
                    s1 = _mm512_dpbusd_epi32(s1, w[j + 1], nf_bcast4(q + 4 * j + 4));                   \
                }                                                                                       \
                /* reference: sumf = fma(sumi, dx · dy, sumf) */                                         \
                const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(nf_f16(y[r][ib].d)));                  \
                acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), d, acc[r]);       \
            }                                                                                           \
        }                                                                                               \
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + 16 * r, acc[r]);                             \
    }

#define NF_DEFINE_GROUP_Q4_1(NAME, R)                                                                  \
    NF_GROUP_VNNI static void NAME(long nb, const uint8_t *g, const nf_block_q8_1 *const y[R],          \
                                   const int32_t *const sums[R], float *out) {                         \
        (void)sums;                                                                                     \
        __m512 acc[R];                                                                                  \
        for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();                                      \
        const __m512i low = _mm512_set1_epi8(0x0F);                                                     \
        for (long ib = 0; ib < nb; ++ib, g += 320) {                                                    \
            const __m512 dx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)g));                  \
            const __m512 mx = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(g + 32)));           \
            __m512i lo[4], hi[4];                                                                       \
            for (int j = 0; j < 4; ++j) {                                                               \
                const __m512i v = _mm512_loadu_si512(g + 64 + 64 * j);                                  \
                lo[j] = _mm512_and_si512(v, low);                                                       \
                hi[j] = _mm512_and_si512(_mm512_srli_epi16(v, 4), low);                                 \
            }                                                                                           \
            for (int r = 0; r < R; ++r) {                                                               \
                const int8_t *q = y[r][ib].qs;                                                          \
                __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();                       \
                for (int j = 0; j < 4; ++j) {                                                           \
                    s0 = _mm512_dpbusd_epi32(s0, lo[j], nf_bcast4(q + 4 * j));                          \
                    s1 = _mm512_dpbusd_epi32(s1, hi[j], nf_bcast4(q + 16 + 4 * j));                     \
                }                                                                                       \
                /* reference: sumf += fma(sumi, dx · dy, m · s) */                                       \
                const __m512 d = _mm512_mul_ps(dx, _mm512_set1_ps(nf_f16(y[r][ib].d)));                  \
                const __m512 ms = _mm512_mul_ps(mx, _mm512_set1_ps(nf_f16(y[r][ib].s)));                 \
                acc[r] = _mm512_add_ps(acc[r], _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(s0, s1)), d, ms)); \
            }                                                                                           \
        }                                                                                               \
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(out + 16 * r, acc[r]);                             \
    }

NF_DEFINE_GROUP_Q4_0(nf_group1_q4_0, 1)
NF_DEFINE_GROUP_Q4_0(nf_group4_q4_0, 4)
NF_DEFINE_GROUP_Q8_0(nf_group1_q8_0, 1)
NF_DEFINE_GROUP_Q8_0(nf_group4_q8_0, 4)
NF_DEFINE_GROUP_Q4_1(nf_group1_q4_1, 1)
NF_DEFINE_GROUP_Q4_1(nf_group4_q4_1, 4)

typedef void (*nf_group_fn)(long nb, const uint8_t *g, const void *const *y, const int32_t *const *sums, float *out);

int nf_ggml_dot_interleaved(int type, long n, const void *w, long firstRow, long rows, const void *y, size_t yRowBytes,
                            long m, float *out, long ldo) {
    nf_group_fn one, four;
    switch (type) {
    case NF_GGML_Q4_0: one = (nf_group_fn)nf_group1_q4_0; four = (nf_group_fn)nf_group4_q4_0; break;
    case NF_GGML_Q8_0: one = (nf_group_fn)nf_group1_q8_0; four = (nf_group_fn)nf_group4_q8_0; break;
    case NF_GGML_Q4_1: one = (nf_group_fn)nf_group1_q4_1; four = (nf_group_fn)nf_group4_q4_1; break;
    default: return -1;
    }
    if (n % NF_QK || firstRow % 16) return -1;
    const long nb = n / NF_QK, groupBytes = nb * nf_ggml_interleaved_block_bytes(type);
    const uint8_t *yb = y;
    // Q4_0 and Q8_0 need each input block's code sum (Q4_1's input blocks carry theirs as s).
    int32_t *sums = type == NF_GGML_Q4_1 ? 0 : malloc(sizeof(int32_t) * (size_t)(m * nb));
    if (type != NF_GGML_Q4_1) {
        if (!sums) return -1;
        nf_input_sums(yb, yRowBytes, m, nb, sums);
    }
    float tile[64];
    for (long r = 0; r < rows; r += 16) {
        const uint8_t *g = (const uint8_t *)w + (firstRow + r) / 16 * groupBytes;
        const long valid = rows - r < 16 ? rows - r : 16;
        for (long i = 0; i < m;) {
            const int R = m - i >= 4 ? 4 : 1;
            const void *ys[4];
            const int32_t *ss[4];
            for (int k = 0; k < R; ++k) { ys[k] = yb + (i + k) * yRowBytes; ss[k] = sums ? sums + (i + k) * nb : 0; }
            (R == 4 ? four : one)(nb, g, ys, ss, tile);
            for (int k = 0; k < R; ++k) memcpy(out + (i + k) * ldo + r, tile + 16 * k, sizeof(float) * (size_t)valid);
            i += R;
        }
    }
    free(sums);
    return 0;
}
