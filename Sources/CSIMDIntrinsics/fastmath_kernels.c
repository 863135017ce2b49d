#include "fastmath_kernels.h"
#include <stdint.h>
#include <string.h>

// Only the fused multiply-adds written as __builtin_fmaf: no other contraction, as in Swift.
#pragma STDC FP_CONTRACT OFF
#pragma clang fp contract(off)

#define NF_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))

static inline NF_AVX512 __attribute__((always_inline)) float nf_bits_float(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static inline NF_AVX512 __attribute__((always_inline)) uint32_t nf_float_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

// FastMath.exp (Sources/NanoTensor/FastMath.swift), step for step.
static inline NF_AVX512 __attribute__((always_inline)) float nf_exp(float x) {
    x = x > 88.8f ? 88.8f : x;
    x = x < -104.0f ? -104.0f : x;
    const float t = __builtin_fmaf(x, 1.4426950408889634f, 12582912.0f);
    const float n = t - 12582912.0f;
    float r = __builtin_fmaf(n, -0.693359375f, x);
    r = __builtin_fmaf(n, 2.1219444e-4f, r);
    float p = 1.98756915e-4f;
    p = __builtin_fmaf(p, r, 1.3981999507e-3f);
    p = __builtin_fmaf(p, r, 8.3334519073e-3f);
    p = __builtin_fmaf(p, r, 4.1665795894e-2f);
    p = __builtin_fmaf(p, r, 1.6666665459e-1f);
    p = __builtin_fmaf(p, r, 5.0000001201e-1f);
    const float y = __builtin_fmaf(p, r * r, r) + 1.0f;
    const int32_t k = (int32_t)nf_float_bits(t) - 0x4B400000;
    const int32_t k1 = k >> 1, k2 = k - k1;
    const float s1 = nf_bits_float((uint32_t)(k1 + 127) << 23), s2 = nf_bits_float((uint32_t)(k2 + 127) << 23);
    return y * s1 * s2;
}

// FastMath.erf, step for step.
static inline NF_AVX512 __attribute__((always_inline)) float nf_erf(float x) {
    x = x > 4.0f ? 4.0f : x;
    x = x < -4.0f ? -4.0f : x;
    const float z = x * x;
    float p = -2.72614225801306e-10f;
    p = __builtin_fmaf(p, z, 2.77068142495902e-08f);
    p = __builtin_fmaf(p, z, -2.10102402082508e-06f);
    p = __builtin_fmaf(p, z, -5.69250639462346e-05f);
    p = __builtin_fmaf(p, z, -7.34990630326855e-04f);
    p = __builtin_fmaf(p, z, -2.95459980854025e-03f);
    p = __builtin_fmaf(p, z, -1.60960333262415e-02f);
    float q = -1.45660718464996e-05f;
    q = __builtin_fmaf(q, z, -2.13374055278905e-04f);
    q = __builtin_fmaf(q, z, -1.68282697438203e-03f);
    q = __builtin_fmaf(q, z, -7.37332916720468e-03f);
    q = __builtin_fmaf(q, z, -1.42647390514189e-02f);
    const float y = x * p / q;
    return y > 1.0f ? 1.0f : (y < -1.0f ? -1.0f : y);
}

// assume_safety: every loop reads element i before it writes element i, so src == dst (the
// softmax rows' and GELU's in-place calls) is safe. Without it clang checked dst − src ≥ 64
// bytes at run time and ran the in-place calls through the scalar remainder loop, 16 times slower.
NF_AVX512 void nf_exp_avx512(const float *src, float *dst, long n) {
#pragma clang loop vectorize(assume_safety) vectorize_width(16) interleave_count(1)
    for (long i = 0; i < n; i++) dst[i] = nf_exp(src[i]);
}

NF_AVX512 void nf_gelu_erf_avx512(const float *src, float *dst, long n) {
#pragma clang loop vectorize(assume_safety) vectorize_width(16) interleave_count(1)
    for (long i = 0; i < n; i++) {
        const float x = src[i];
        dst[i] = 0.5f * x * (1.0f + nf_erf(x * 0.7071067811865475244f));
    }
}

NF_AVX512 void nf_gelu_erf_backward_avx512(const float *x, const float *g, float *dst, long n) {
#pragma clang loop vectorize(assume_safety) vectorize_width(16) interleave_count(1)
    for (long i = 0; i < n; i++) {
        const float v = x[i];
        const float cdf = 0.5f * (1.0f + nf_erf(v * 0.7071067811865475244f));
        const float pdf = 0.3989422804014326779f * nf_exp(-0.5f * v * v);
        dst[i] = g[i] * __builtin_fmaf(v, pdf, cdf);
    }
}

NF_AVX512 void nf_exp_shifted_avx512(const float *src, float shift, float *dst, long n) {
#pragma clang loop vectorize(assume_safety) vectorize_width(16) interleave_count(1)
    for (long i = 0; i < n; i++) dst[i] = nf_exp(src[i] - shift);
}
