// Per-token activation quantization into the VNNI kernels' operand layout (see vnni_kernels.h),
// on zmm. The same operations as Int8GEMM's Swift loops (Int8GEMM+VNNI.swift), so the same codes.
#include "vnni_kernels.h"
#include <immintrin.h>

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define NF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

static inline __mmask16 nf_q_mask(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

NF_AVX512 float nf_absmax_avx512(const float *x, long n) {
    const __m512 signless = _mm512_castsi512_ps(_mm512_set1_epi32(0x7FFFFFFF));
    __m512 m = _mm512_setzero_ps();
    for (long i = 0; i < n; i += 16) {
        const __m512 v = _mm512_and_ps(_mm512_maskz_loadu_ps(nf_q_mask(n - i), x + i), signless);
        m = _mm512_max_ps(v, m);  // a NaN |x| yields m: NaN is ignored, as the Swift loop's compare
    }
    return _mm512_reduce_max_ps(m);
}

// Row t's 16 codes (columns c…c+15) as 16 bytes: round(x · inverse) to nearest-even, clamped to
// ±127, + 128. max(lo, v) and min(hi, v) return v when v is NaN (the second operand), so a NaN
// converts to the integer indefinite 0x80000000 and keeps code 128 (value 0), as the Swift loop.
static inline NF_AVX512 __attribute__((always_inline)) __m128i nf_offset_codes(const float *row, __mmask16 mask, __m512 inverse) {
    __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, row), inverse);
    v = _mm512_max_ps(_mm512_set1_ps(-127.0f), v);
    v = _mm512_min_ps(_mm512_set1_ps(127.0f), v);
    const __m512i q = _mm512_add_epi32(_mm512_cvtps_epi32(v), _mm512_set1_epi32(128));
    return _mm512_cvtepi32_epi8(q);
}

NF_AVX512 void nf_quantize_offset_blocks_avx512(const float *x, long m, long columns, long quads, const float *inverse,
                                                long firstBlock, long lastBlock, uint8_t *codes) {
    // Output dword q·4 + t is row t's dword q (4 codes): a 4×4 transpose of dwords.
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    for (long block = firstBlock; block < lastBlock; block++) {
        const float *rows[4];
        __m512 inv[4];
        for (int t = 0; t < 4; t++) {
            const long i = 4 * block + t;
            // Rows past m: row 0 times 0 (or NaN), code 128 either way.
            rows[t] = i < m ? x + i * columns : x;
            inv[t] = _mm512_set1_ps(i < m ? inverse[i] : 0.0f);
        }
        uint8_t *dst = codes + block * quads * 16;
        for (long c = 0; c < columns; c += 16) {
            const __mmask16 mask = nf_q_mask(columns - c);
            __m512i lines = _mm512_castsi128_si512(nf_offset_codes(rows[0] + c, mask, inv[0]));
            lines = _mm512_inserti32x4(lines, nf_offset_codes(rows[1] + c, mask, inv[1]), 1);
            lines = _mm512_inserti32x4(lines, nf_offset_codes(rows[2] + c, mask, inv[2]), 2);
            lines = _mm512_inserti32x4(lines, nf_offset_codes(rows[3] + c, mask, inv[3]), 3);
            const long q = c / 4, nq = quads - q < 4 ? quads - q : 4;
            _mm512_mask_storeu_epi32(dst + q * 16, nf_q_mask(4 * nq), _mm512_permutexvar_epi32(order, lines));
        }
    }
}
