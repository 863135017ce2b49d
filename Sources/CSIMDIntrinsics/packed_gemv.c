// nanoforge's packed int8 / int4 weights times a few Float32 rows, the weights dequantized in
// registers (packed_gemv.h). One weight row at a time; each dequantized vector meets every input
// row (m ≤ 4) before the next is formed.
#include "packed_gemv.h"
#include <immintrin.h>
#include "packed_codes_avx512.h"

#define NF_GEMV_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

/// Code c of a row (int8: byte c; 4-bit: nibble c of its 32-code block), as an integer.
static inline int nf_code(int bits, int is_signed, const uint8_t *row, long c) {
    if (bits == 8) return is_signed ? (int)(int8_t)row[c] : (int)row[c];
    const uint8_t byte = row[c / 32 * 16 + c % 16];
    const int v = (c % 32 < 16) ? (byte & 0xF) : (byte >> 4);
    return is_signed ? ((v ^ 8) - 8) : v;
}

static void nf_gemv_reference(int bits, int is_signed, const uint8_t *codes, size_t rowBytes, const float *scales,
                              const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x,
                              long m, float *out, long ldo) {
    for (long r = 0; r < rows; ++r)
        for (long i = 0; i < m; ++i) {
            float sum = 0;
            for (long c = 0; c < cols; ++c) {
                const long slot = r * groupsPerRow + c / group;
                // Two statements, so that the compiler does not fuse them: the panels' rounding.
                const float scaled = (float)nf_code(bits, is_signed, codes + r * rowBytes, c) * scales[slot];
                const float w = scaled + (offsets ? offsets[slot] : 0.0f);
                sum += w * x[i * cols + c];
            }
            out[i * ldo + r] = sum;
        }
}

static inline float nf_hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The SIMD paths: one weight row's group at a time; `M` and `SIGNED` are constants at each call
// (the dispatch below), so the input-row loops unroll and the code widening has no branch. Two
// accumulators per input row (even and odd steps) keep two FMA chains in flight.
#define NF_GEMV_DISPATCH(BODY)                                                                         \
    switch (m * 2 + (is_signed != 0)) {                                                                \
    case 2: BODY(1, 0); break; case 3: BODY(1, 1); break; case 4: BODY(2, 0); break;                   \
    case 5: BODY(2, 1); break; case 6: BODY(3, 0); break; case 7: BODY(3, 1); break;                   \
    case 8: BODY(4, 0); break; default: BODY(4, 1); break;                                             \
    }

static inline __attribute__((always_inline)) __m256 nf_weights8(__m128i b, int is_signed, __m256 s, __m256 o) {
    const __m256i q = is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
    return _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(q), s), o);
}

static inline __attribute__((always_inline)) void nf_nibbles8(__m128i bytes, int is_signed, __m256i *lo, __m256i *hi) {
    const __m256i b = _mm256_cvtepu8_epi32(bytes);
    if (is_signed) {
        *lo = _mm256_srai_epi32(_mm256_slli_epi32(b, 28), 28);
        *hi = _mm256_srai_epi32(_mm256_slli_epi32(b, 24), 28);
    } else {
        *lo = _mm256_and_si256(b, _mm256_set1_epi32(0xF));
        *hi = _mm256_srli_epi32(b, 4);
    }
}

// AVX2: 8 codes per step; an int8 group's tail (not a multiple of 16) in the plain loop's form.
static inline __attribute__((always_inline)) void nf_gemv_avx2_rows(
    const int M, const int is_signed, int bits, const uint8_t *codes, size_t rowBytes, const float *scales,
    const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x, float *out, long ldo) {
    for (long r = 0; r < rows; ++r) {
        const uint8_t *row = codes + r * rowBytes;
        __m256 acc[4][2];
        float tail[4] = {0, 0, 0, 0};
        for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        for (long g = 0; g < groupsPerRow; ++g) {
            const float scale = scales[r * groupsPerRow + g], offset = offsets ? offsets[r * groupsPerRow + g] : 0.0f;
            const __m256 s = _mm256_set1_ps(scale), o = _mm256_set1_ps(offset);
            const long start = g * group, end = start + group;
            long c = start;
            if (bits == 8) {
                for (; c + 16 <= end; c += 16) {
                    const __m128i b = _mm_loadu_si128((const __m128i *)(row + c));
                    const __m256 w0 = nf_weights8(b, is_signed, s, o), w1 = nf_weights8(_mm_srli_si128(b, 8), is_signed, s, o);
                    for (int i = 0; i < M; ++i) {
                        acc[i][0] = _mm256_fmadd_ps(w0, _mm256_loadu_ps(x + i * cols + c), acc[i][0]);
                        acc[i][1] = _mm256_fmadd_ps(w1, _mm256_loadu_ps(x + i * cols + c + 8), acc[i][1]);
                    }
                }
                for (; c < end; ++c) {
                    const float scaled = (float)nf_code(8, is_signed, row, c) * scale;
                    const float w = scaled + offset;
                    for (int i = 0; i < M; ++i) tail[i] += w * x[i * cols + c];
                }
            } else {
                for (; c < end; c += 32) {
                    const __m128i bytes = _mm_loadu_si128((const __m128i *)(row + c / 2));
                    for (int half = 0; half < 2; ++half) {   // bytes 0-7 then 8-15: codes c+8·half…, c+16+8·half…
                        __m256i lo, hi;
                        nf_nibbles8(half ? _mm_srli_si128(bytes, 8) : bytes, is_signed, &lo, &hi);
                        const __m256 wl = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(lo), s), o);
                        const __m256 wh = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(hi), s), o);
                        for (int i = 0; i < M; ++i) {
                            acc[i][0] = _mm256_fmadd_ps(wl, _mm256_loadu_ps(x + i * cols + c + 8 * half), acc[i][0]);
                            acc[i][1] = _mm256_fmadd_ps(wh, _mm256_loadu_ps(x + i * cols + c + 16 + 8 * half), acc[i][1]);
                        }
                    }
                }
            }
        }
        for (int i = 0; i < M; ++i) out[i * ldo + r] = nf_hsum256(_mm256_add_ps(acc[i][0], acc[i][1])) + tail[i];
    }
}

static void nf_gemv_avx2(int bits, int is_signed, const uint8_t *codes, size_t rowBytes, const float *scales,
                         const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x,
                         long m, float *out, long ldo) {
#define NF_AVX2_BODY(M, S) nf_gemv_avx2_rows(M, S, bits, codes, rowBytes, scales, offsets, groupsPerRow, group, rows, cols, x, out, ldo)
    NF_GEMV_DISPATCH(NF_AVX2_BODY)
#undef NF_AVX2_BODY
}

// AVX-512: 16 codes per step, tails as masked loads (masked lanes read x as 0).
NF_GEMV_AVX512_TARGET static inline __attribute__((always_inline)) __mmask16 nf_tail_mask(long left) {
    return left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
}

NF_GEMV_AVX512_TARGET static inline __attribute__((always_inline)) void nf_gemv_avx512_rows(
    const int M, const int is_signed, int bits, const uint8_t *codes, size_t rowBytes, const float *scales,
    const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x, float *out, long ldo) {
    for (long r = 0; r < rows; ++r) {
        const uint8_t *row = codes + r * rowBytes;
        __m512 acc[4][2];
        for (int i = 0; i < M; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        for (long g = 0; g < groupsPerRow; ++g) {
            const __m512 s = _mm512_set1_ps(scales[r * groupsPerRow + g]);
            const __m512 o = _mm512_set1_ps(offsets ? offsets[r * groupsPerRow + g] : 0.0f);
            const long start = g * group, end = start + group;
            if (bits == 8) {
                long c = start;
                for (; c + 32 <= end; c += 32) {
                    const __m512 w0 = nf_codes8_weights(_mm_loadu_si128((const __m128i *)(row + c)), is_signed, s, o);
                    const __m512 w1 = nf_codes8_weights(_mm_loadu_si128((const __m128i *)(row + c + 16)), is_signed, s, o);
                    for (int i = 0; i < M; ++i) {
                        acc[i][0] = _mm512_fmadd_ps(w0, _mm512_loadu_ps(x + i * cols + c), acc[i][0]);
                        acc[i][1] = _mm512_fmadd_ps(w1, _mm512_loadu_ps(x + i * cols + c + 16), acc[i][1]);
                    }
                }
                for (; c < end; c += 16) {
                    const __mmask16 k = nf_tail_mask(end - c);
                    const __m512 w = nf_codes8_weights(_mm_maskz_loadu_epi8(k, row + c), is_signed, s, o);
                    for (int i = 0; i < M; ++i) acc[i][0] = _mm512_fmadd_ps(w, _mm512_maskz_loadu_ps(k, x + i * cols + c), acc[i][0]);
                }
            } else {
                for (long c = start; c < end; c += 32) {
                    __m512 wl, wh;
                    nf_codes4_weights(row + c / 2, is_signed, s, o, &wl, &wh);
                    for (int i = 0; i < M; ++i) {
                        acc[i][0] = _mm512_fmadd_ps(wl, _mm512_loadu_ps(x + i * cols + c), acc[i][0]);
                        acc[i][1] = _mm512_fmadd_ps(wh, _mm512_loadu_ps(x + i * cols + c + 16), acc[i][1]);
                    }
                }
            }
        }
        for (int i = 0; i < M; ++i) out[i * ldo + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[i][0], acc[i][1]));
    }
}

NF_GEMV_AVX512_TARGET
static void nf_gemv_avx512(int bits, int is_signed, const uint8_t *codes, size_t rowBytes, const float *scales,
                           const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x,
                           long m, float *out, long ldo) {
#define NF_AVX512_BODY(M, S) nf_gemv_avx512_rows(M, S, bits, codes, rowBytes, scales, offsets, groupsPerRow, group, rows, cols, x, out, ldo)
    NF_GEMV_DISPATCH(NF_AVX512_BODY)
#undef NF_AVX512_BODY
}

int nf_packed_gemv(int path, int bits, int is_signed, const uint8_t *codes, size_t rowBytes, const float *scales,
                   const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x, long m,
                   float *out, long ldo) {
    if (m < 1 || m > 4 || (bits != 8 && bits != 4) || groupsPerRow * group != cols || (bits == 4 && group % 32)) return -1;
    switch (path) {
    case NF_GEMV_AVX512: nf_gemv_avx512(bits, is_signed, codes, rowBytes, scales, offsets, groupsPerRow, group, rows, cols, x, m, out, ldo); break;
    case NF_GEMV_AVX2: nf_gemv_avx2(bits, is_signed, codes, rowBytes, scales, offsets, groupsPerRow, group, rows, cols, x, m, out, ldo); break;
    default: nf_gemv_reference(bits, is_signed, codes, rowBytes, scales, offsets, groupsPerRow, group, rows, cols, x, m, out, ldo);
    }
    return 0;
}
