// AVX-512 forms of NanoTensor's layer norm and RMS norm rows (Tensor+Norm.swift), with
// per-function target attributes. Each computes what the Swift AVX2 loop computes, operation for
// operation: the same 16 partial sums per reduction (the Swift loop's two SIMD8 accumulators are
// the two halves of one zmm), reduced in the same order, the same fused multiply-adds and no
// other contraction, so the outputs are the same bits (NormDispatchTests check that).
#ifndef NANOFORGE_NORM_KERNELS_H
#define NANOFORGE_NORM_KERNELS_H

/// Rows [first, last) of x [rows, d] (optionally x + residual, the sum rounded once as a Float
/// add): y = ((h − μ₀) − δ) · s · γ + β per row, as `Tensor.layerNormWithStatistics`. mean and
/// rstd (per row, may be NULL) receive μ₀ + δ and s. gamma / beta NULL mean 1 / 0. y may be x.
void nf_layer_norm_avx512(const float *x, const float *residual, long first, long last, long d,
                          const float *gamma, const float *beta, float epsilon,
                          float *y, float *mean, float *rstd);

/// Rows [first, last) of x [rows, d]: y = x · s · γ, s = 1/√(mean(x²) + ε), as
/// `Tensor.rmsNormWithStatistics`; rstd (may be NULL) receives s. gamma NULL means 1.
void nf_rms_norm_avx512(const float *x, long first, long last, long d, const float *gamma, float epsilon,
                        float *y, float *rstd);

#endif
