// PackedWeight's codes widened into Float32 weights with AVX-512, code · scale + offset as a
// multiply then an add (the dense model's values): shared by the dequantizing panels
// (dequant_kernels.c) and the in-register GEMV (packed_gemv.c).
#ifndef NANOFORGE_PACKED_CODES_AVX512_H
#define NANOFORGE_PACKED_CODES_AVX512_H
#include <immintrin.h>
#include <stdint.h>

#define NF_PACKED_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl")))

/// 16 int8 (or uint8, !is_signed) codes → 16 weights.
NF_PACKED_AVX512 static inline __attribute__((always_inline)) __m512 nf_codes8_weights(__m128i codes, int is_signed, __m512 s, __m512 o) {
    const __m512i q = is_signed ? _mm512_cvtepi8_epi32(codes) : _mm512_cvtepu8_epi32(codes);
    return _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(q), s), o);
}

/// One block of 32 4-bit codes (16 bytes: codes 0…15 in the low nibbles, 16…31 in the high ones;
/// signed codes sign-extended) → weights 0…15 (`lo`) and 16…31 (`hi`).
NF_PACKED_AVX512 static inline __attribute__((always_inline)) void nf_codes4_weights(const uint8_t *block, int is_signed, __m512 s, __m512 o,
                                                                                     __m512 *lo, __m512 *hi) {
    const __m512i b = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)block));
    __m512i l, h;
    if (is_signed) {
        l = _mm512_srai_epi32(_mm512_slli_epi32(b, 28), 28);
        h = _mm512_srai_epi32(_mm512_slli_epi32(b, 24), 28);
    } else {
        l = _mm512_and_si512(b, _mm512_set1_epi32(0xF));
        h = _mm512_srli_epi32(b, 4);
    }
    *lo = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(l), s), o);
    *hi = _mm512_add_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(h), s), o);
}

#endif
