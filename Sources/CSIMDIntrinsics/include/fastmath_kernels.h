// AVX-512 forms of NanoTensor's FastMath buffer loops (exp, GELU with erf), with per-function
// target attributes. Each is FastMath's scalar formula, operation for operation (the same fused
// multiply-adds, no other contraction), vectorised 16 lanes wide, so it gives the same bits as
// the Swift AVX2 loop (FastMathTests check that over sweeps).
#ifndef NANOFORGE_FASTMATH_KERNELS_H
#define NANOFORGE_FASTMATH_KERNELS_H

/// dst[i] = FastMath.exp(src[i]), i < n; src and dst may be the same buffer.
void nf_exp_avx512(const float *src, float *dst, long n);
/// dst[i] = FastMath.exp(src[i] − shift) (a softmax row's exponentials).
void nf_exp_shifted_avx512(const float *src, float shift, float *dst, long n);
/// dst[i] = 0.5 · x · (1 + FastMath.erf(x · √½)), x = src[i] (GELU, erf form).
void nf_gelu_erf_avx512(const float *src, float *dst, long n);
/// dst[i] = g[i] · (Φ(x) + x·φ(x)), x = x[i] (the GELU erf derivative, as ActivationMath's).
void nf_gelu_erf_backward_avx512(const float *x, const float *g, float *dst, long n);

#endif
