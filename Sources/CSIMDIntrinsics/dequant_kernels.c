#include "dequant_kernels.h"
#include <immintrin.h>
#include "packed_codes_avx512.h"

#define NF_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

NF_AVX512
void nf_dequant_8bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n) {
    const __m512 s = _mm512_set1_ps(scale), o = _mm512_set1_ps(offset);
    long c = 0;
    for (; c < n; c += 16) {
        // The tail as a masked load and store: lanes past n are neither read nor written.
        const __mmask16 k = n - c >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (n - c)) - 1);
        _mm512_mask_storeu_ps(dst + c, k, nf_codes8_weights(_mm_maskz_loadu_epi8(k, src + c), is_signed, s, o));
    }
}

NF_AVX512
void nf_dequant_4bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n) {
    const __m512 s = _mm512_set1_ps(scale), o = _mm512_set1_ps(offset);
    for (long block = 0; block < n; block += 32) {
        __m512 lo, hi;
        nf_codes4_weights(src + block / 2, is_signed, s, o, &lo, &hi);
        _mm512_storeu_ps(dst + block, lo);
        _mm512_storeu_ps(dst + block + 16, hi);
    }
}
