#include "dequant_kernels.h"
#include <immintrin.h>

#define NF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

NF_AVX512
void nf_dequant_8bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n) {
    const __m512 s = _mm512_set1_ps(scale), o = _mm512_set1_ps(offset);
    long c = 0;
    for (; c < n; c += 16) {
        // The tail as a masked load and store: lanes past n are neither read nor written.
        const __mmask16 k = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        const __m128i b = _mm_maskz_loadu_epi8(k, src + c);
        const __m512i q = is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
        _mm512_mask_storeu_ps(dst + c, k, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(q), s), o));
    }
}

NF_AVX512
void nf_dequant_4bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n) {
    const __m512 s = _mm512_set1_ps(scale), o = _mm512_set1_ps(offset);
    for (long block = 0; block < n; block += 32) {
        const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(src + block / 2)));
        __m512i lo, hi;
        if (is_signed) {
            lo = _mm512_srai_epi32(_mm512_slli_epi32(b, 28), 28);
            hi = _mm512_srai_epi32(_mm512_slli_epi32(b, 24), 28);
        } else {
            lo = _mm512_and_si512(b, _mm512_set1_epi32(0xF));
            hi = _mm512_srli_epi32(b, 4);
        }
        _mm512_storeu_ps(dst + block, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), s), o));
        _mm512_storeu_ps(dst + block + 16, _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), s), o));
    }
}
