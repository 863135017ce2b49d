// AVX-512 VL + VNNI block dot products: vpdpbusd on ymm replaces vpmaddubsw + vpmaddwd (one
// instruction, no int16 intermediate). Q4_0, Q4_1 and Q8_0 run on interleaved rows instead
// (ggml_dot_interleaved_vnni.c); IQ4_NL, whose codes index a table, stays here. Same integer sums as the AVX2
// and plain-loop kernels; called only where KernelSet found AVX-512 VNNI.
#include "ggml_blocks.h"

#define NF_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

/// Σ of signed × signed byte pairs in 8 int32 lanes: |x| × (y with x's sign) through vpdpbusd.
static inline NF_VNNI __m256i nf_dot_ss8_vnni(__m256i x, __m256i y) {
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

NF_VNNI float nf_dot_iq4_nl_vnni(long n, const void *vx, const void *vy) {
    const nf_block_iq4_nl *x = vx; const nf_block_q8_0 *y = vy;
    const __m128i table = _mm_loadu_si128((const __m128i *)nf_kvalues_iq4nl);
    const __m256i lut = _mm256_set_m128i(table, table);
    __m256 acc = _mm256_setzero_ps();
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        const __m256i qx = _mm256_shuffle_epi8(lut, nf_nibbles32(x[ib].qs));
        const __m256i qy = _mm256_loadu_si256((const __m256i *)y[ib].qs);
        const __m256 d = _mm256_set1_ps(nf_f16(x[ib].d) * nf_f16(y[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(nf_dot_ss8_vnni(qx, qy)), acc);
    }
    return nf_hsum8(acc);
}
