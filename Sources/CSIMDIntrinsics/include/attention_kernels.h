// One head of the runtime's scaled dot-product attention on zmm (NanoRuntime's
// RuntimeAttention+Kernel.swift prepares the operands), with a per-function target attribute.
// Every output element is computed by the same operations in the same order as the Swift SIMD8
// loops (twoRowProduct for the scores and the context, softmaxRow): per score one fused multiply-add chain over the
// head's channels from zero, then the scale; per context element one chain over the keys from
// zero; the softmax sum over 8 lanes in key order, the lanes then summed one by one from -0.
// So both kernel sets give the same bits (RuntimeAttentionTests).
#ifndef NANOFORGE_ATTENTION_KERNELS_H
#define NANOFORGE_ATTENTION_KERNELS_H

/// q [t, d] (row stride d), kT [d, tp] (keys transposed, zero in columns t..<tp, tp a multiple
/// of 16), v [t, d]: scores [t, tp] (scratch) = scale · q · kT, keys valid..<t get `masked` added,
/// a softmax per row over t keys, then out[i · outStride + c] = Σ_j p[i, j] · v[j, c].
void nf_attention_head_avx512(const float *q, const float *kT, const float *v, long t, long tp, long d, float scale,
                              long valid, float masked, float *scores, float *out, long outStride);

#endif
