#include "vnni_kernels.h"
#include <immintrin.h>
#include <string.h>

#define NF_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

static inline NF_AVX512_VNNI __m512i nf_bcast4(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

NF_AVX512_VNNI
void nf_u8s8_8x32_avx512vnni(const uint8_t *a0, const uint8_t *a1, const int8_t *w0, const int8_t *w1,
                             long quads, int32_t *out) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    for (long q = 0; q < quads; q++) {
        const __m512i x0 = _mm512_loadu_si512(w0 + 64 * q), x1 = _mm512_loadu_si512(w1 + 64 * q);
        const uint8_t *p = a0 + 16 * q, *r = a1 + 16 * q;
        __m512i b;
        b = nf_bcast4(p);      c00 = _mm512_dpbusd_epi32(c00, b, x0); c01 = _mm512_dpbusd_epi32(c01, b, x1);
        b = nf_bcast4(p + 4);  c10 = _mm512_dpbusd_epi32(c10, b, x0); c11 = _mm512_dpbusd_epi32(c11, b, x1);
        b = nf_bcast4(p + 8);  c20 = _mm512_dpbusd_epi32(c20, b, x0); c21 = _mm512_dpbusd_epi32(c21, b, x1);
        b = nf_bcast4(p + 12); c30 = _mm512_dpbusd_epi32(c30, b, x0); c31 = _mm512_dpbusd_epi32(c31, b, x1);
        b = nf_bcast4(r);      c40 = _mm512_dpbusd_epi32(c40, b, x0); c41 = _mm512_dpbusd_epi32(c41, b, x1);
        b = nf_bcast4(r + 4);  c50 = _mm512_dpbusd_epi32(c50, b, x0); c51 = _mm512_dpbusd_epi32(c51, b, x1);
        b = nf_bcast4(r + 8);  c60 = _mm512_dpbusd_epi32(c60, b, x0); c61 = _mm512_dpbusd_epi32(c61, b, x1);
        b = nf_bcast4(r + 12); c70 = _mm512_dpbusd_epi32(c70, b, x0); c71 = _mm512_dpbusd_epi32(c71, b, x1);
    }
    _mm512_storeu_si512(out + 0, c00);   _mm512_storeu_si512(out + 16, c01);
    _mm512_storeu_si512(out + 32, c10);  _mm512_storeu_si512(out + 48, c11);
    _mm512_storeu_si512(out + 64, c20);  _mm512_storeu_si512(out + 80, c21);
    _mm512_storeu_si512(out + 96, c30);  _mm512_storeu_si512(out + 112, c31);
    _mm512_storeu_si512(out + 128, c40); _mm512_storeu_si512(out + 144, c41);
    _mm512_storeu_si512(out + 160, c50); _mm512_storeu_si512(out + 176, c51);
    _mm512_storeu_si512(out + 192, c60); _mm512_storeu_si512(out + 208, c61);
    _mm512_storeu_si512(out + 224, c70); _mm512_storeu_si512(out + 240, c71);
}

// One body for both 256-bit encodings: TARGET the function attribute, DP the vpdpbusd intrinsic.
// Per quad the 16-column block is two ymm (columns 0-7, 8-15), each 32-bit lane 4 k of one column.
#define NF_U8S8_4X16(NAME, TARGET, DP)                                                              \
    __attribute__((target(TARGET))) void NAME(const uint8_t *a, const int8_t *w, long quads, int32_t *out) { \
        __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00;                     \
        __m256i c20 = c00, c21 = c00, c30 = c00, c31 = c00;                                         \
        for (long q = 0; q < quads; q++) {                                                          \
            const __m256i x0 = _mm256_loadu_si256((const __m256i *)(w + 64 * q));                   \
            const __m256i x1 = _mm256_loadu_si256((const __m256i *)(w + 64 * q + 32));              \
            const uint8_t *p = a + 16 * q;                                                          \
            int32_t v;                                                                              \
            __m256i b;                                                                              \
            memcpy(&v, p, 4);      b = _mm256_set1_epi32(v); c00 = DP(c00, b, x0); c01 = DP(c01, b, x1); \
            memcpy(&v, p + 4, 4);  b = _mm256_set1_epi32(v); c10 = DP(c10, b, x0); c11 = DP(c11, b, x1); \
            memcpy(&v, p + 8, 4);  b = _mm256_set1_epi32(v); c20 = DP(c20, b, x0); c21 = DP(c21, b, x1); \
            memcpy(&v, p + 12, 4); b = _mm256_set1_epi32(v); c30 = DP(c30, b, x0); c31 = DP(c31, b, x1); \
        }                                                                                           \
        _mm256_storeu_si256((__m256i *)(out + 0), c00);  _mm256_storeu_si256((__m256i *)(out + 8), c01);  \
        _mm256_storeu_si256((__m256i *)(out + 16), c10); _mm256_storeu_si256((__m256i *)(out + 24), c11); \
        _mm256_storeu_si256((__m256i *)(out + 32), c20); _mm256_storeu_si256((__m256i *)(out + 40), c21); \
        _mm256_storeu_si256((__m256i *)(out + 48), c30); _mm256_storeu_si256((__m256i *)(out + 56), c31); \
    }

NF_U8S8_4X16(nf_u8s8_4x16_avxvnni, "avx2,fma,avxvnni", _mm256_dpbusd_avx_epi32)
NF_U8S8_4X16(nf_u8s8_4x16_avx512vl, "avx512f,avx512bw,avx512vl,avx512vnni", _mm256_dpbusd_epi32)

// ---- The whole AVX-512 VNNI GEMM of one worker, epilogue fused (nf_u8s8_gemm_avx512vnni) ----

#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

static inline __mmask16 nf_vnni_mask(long n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

// Row r's two 16-column halves: out = float(c − z·Σw) · (a_r · s) + bias, stored where column < n.
static inline NF_AVX512_VNNI __attribute__((always_inline)) void nf_vnni_epilogue(
    __m512i c0, __m512i c1, int nb, long row, long column, const int32_t *columnSums, const int32_t *zeroPoints,
    const float *activationScales, const float *weightScales, const float *bias, float *out, long n) {
    const __m512i z = _mm512_set1_epi32(zeroPoints[row]);
    const __m512 as = _mm512_set1_ps(activationScales[row]);
    float *o = out + row * n;
    for (int h = 0; h < nb; h++) {
        const long col = column + 16 * h;
        if (col >= n) return;
        const __mmask16 k = nf_vnni_mask(n - col);
        const __m512i sums = _mm512_sub_epi32(h ? c1 : c0, _mm512_mullo_epi32(z, _mm512_loadu_si512(columnSums + col)));
        const __m512 s = _mm512_mul_ps(as, _mm512_loadu_ps(weightScales + col));
        const __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(sums), s);
        const __m512 b = bias ? _mm512_maskz_loadu_ps(k, bias + col) : _mm512_setzero_ps();
        _mm512_mask_storeu_ps(o + col, k, _mm512_add_ps(y, b));
    }
}

NF_AVX512_VNNI
void nf_u8s8_gemm_avx512vnni(const uint8_t *a, long m, long quads, const int8_t *w, long blockBegin, long blockEnd,
                             const int32_t *columnSums, const int32_t *zeroPoints, const float *activationScales,
                             const float *weightScales, const float *bias, float *out, long n, long chunkRows) {
    const long blockBytes = quads * 16, weightBytes = quads * 64;
    for (long r0 = 0; r0 < m; r0 += chunkRows) {
        const long r1 = r0 + chunkRows < m ? r0 + chunkRows : m;
        for (long b = blockBegin; b < blockEnd; b += 2) {
            const int nb = blockEnd - b >= 2 ? 2 : 1;
            const int8_t *w0 = w + b * weightBytes, *w1 = nb > 1 ? w0 + weightBytes : w0;
            for (long i = r0; i < r1; i += 8) {
                const long count = r1 - i < 8 ? r1 - i : 8;
                const uint8_t *a0 = a + (i / 4) * blockBytes, *a1 = count > 4 ? a0 + blockBytes : a0;
                __m512i c00 = _mm512_setzero_si512(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
                __m512i c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
                for (long q = 0; q < quads; q++) {
                    const __m512i x0 = _mm512_loadu_si512(w0 + 64 * q), x1 = _mm512_loadu_si512(w1 + 64 * q);
                    const uint8_t *p = a0 + 16 * q, *r = a1 + 16 * q;
                    __m512i v;
                    v = nf_bcast4(p);      c00 = _mm512_dpbusd_epi32(c00, v, x0); c01 = _mm512_dpbusd_epi32(c01, v, x1);
                    v = nf_bcast4(p + 4);  c10 = _mm512_dpbusd_epi32(c10, v, x0); c11 = _mm512_dpbusd_epi32(c11, v, x1);
                    v = nf_bcast4(p + 8);  c20 = _mm512_dpbusd_epi32(c20, v, x0); c21 = _mm512_dpbusd_epi32(c21, v, x1);
                    v = nf_bcast4(p + 12); c30 = _mm512_dpbusd_epi32(c30, v, x0); c31 = _mm512_dpbusd_epi32(c31, v, x1);
                    v = nf_bcast4(r);      c40 = _mm512_dpbusd_epi32(c40, v, x0); c41 = _mm512_dpbusd_epi32(c41, v, x1);
                    v = nf_bcast4(r + 4);  c50 = _mm512_dpbusd_epi32(c50, v, x0); c51 = _mm512_dpbusd_epi32(c51, v, x1);
                    v = nf_bcast4(r + 8);  c60 = _mm512_dpbusd_epi32(c60, v, x0); c61 = _mm512_dpbusd_epi32(c61, v, x1);
                    v = nf_bcast4(r + 12); c70 = _mm512_dpbusd_epi32(c70, v, x0); c71 = _mm512_dpbusd_epi32(c71, v, x1);
                }
                const long column = b * 16;
#define NF_EPILOGUE(R, C0, C1) \
                if (count > R) nf_vnni_epilogue(C0, C1, nb, i + R, column, columnSums, zeroPoints, activationScales, weightScales, bias, out, n)
                NF_EPILOGUE(0, c00, c01); NF_EPILOGUE(1, c10, c11); NF_EPILOGUE(2, c20, c21); NF_EPILOGUE(3, c30, c31);
                NF_EPILOGUE(4, c40, c41); NF_EPILOGUE(5, c50, c51); NF_EPILOGUE(6, c60, c61); NF_EPILOGUE(7, c70, c71);
#undef NF_EPILOGUE
            }
        }
    }
}
