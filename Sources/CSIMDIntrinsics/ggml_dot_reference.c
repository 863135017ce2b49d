// The plain-loop block dot products (ggml's `ggml_vec_dot_*_generic`, the same operations in the
// same order), the input quantizers (`quantize_row_q8_*_ref`) and the dispatch over paths.
#include "ggml_dot_kernels.h"
#include "ggml_blocks.h"
#include <math.h>

float nf_dot_q4_0_ref(long n, const void *vx, const void *vy) {
    const nf_block_q4_0 *x = vx; const nf_block_q8_0 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; ++j) {
            sumi0 += ((x[ib].qs[j] & 0x0F) - 8) * y[ib].qs[j];
            sumi1 += ((x[ib].qs[j] >> 4) - 8) * y[ib].qs[j + 16];
        }
        // The FMAs are written out (clang contracted these expressions to them anyway) so that the
        // interleaved AVX-512 kernels, which repeat these operations, match bit for bit.
        sumf = fmaf((float)(sumi0 + sumi1) * nf_f16(x[ib].d), nf_f16(y[ib].d), sumf);
    }
    return sumf;
}

float nf_dot_q4_1_ref(long n, const void *vx, const void *vy) {
    const nf_block_q4_1 *x = vx; const nf_block_q8_1 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; ++j) {
            sumi0 += (x[ib].qs[j] & 0x0F) * y[ib].qs[j];
            sumi1 += (x[ib].qs[j] >> 4) * y[ib].qs[j + 16];
        }
        sumf += fmaf((float)(sumi0 + sumi1), nf_f16(x[ib].d) * nf_f16(y[ib].d), nf_f16(x[ib].m) * nf_f16(y[ib].s));
    }
    return sumf;
}

float nf_dot_q5_0_ref(long n, const void *vx, const void *vy) {
    const nf_block_q5_0 *x = vx; const nf_block_q8_0 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        uint32_t qh; memcpy(&qh, x[ib].qh, 4);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; ++j) {
            const uint8_t h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
            sumi0 += (((x[ib].qs[j] & 0x0F) | h0) - 16) * y[ib].qs[j];
            sumi1 += (((x[ib].qs[j] >> 4) | h1) - 16) * y[ib].qs[j + 16];
        }
        sumf += (nf_f16(x[ib].d) * nf_f16(y[ib].d)) * (sumi0 + sumi1);
    }
    return sumf;
}

float nf_dot_q5_1_ref(long n, const void *vx, const void *vy) {
    const nf_block_q5_1 *x = vx; const nf_block_q8_1 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        uint32_t qh; memcpy(&qh, x[ib].qh, 4);
        int sumi0 = 0, sumi1 = 0;
        for (int j = 0; j < 16; ++j) {
            const uint8_t h0 = ((qh >> j) & 1) << 4, h1 = ((qh >> (j + 16)) & 1) << 4;
            sumi0 += ((x[ib].qs[j] & 0x0F) | h0) * y[ib].qs[j];
            sumi1 += ((x[ib].qs[j] >> 4) | h1) * y[ib].qs[j + 16];
        }
        sumf += fmaf((float)(sumi0 + sumi1), nf_f16(x[ib].d) * nf_f16(y[ib].d), nf_f16(x[ib].m) * nf_f16(y[ib].s));
    }
    return sumf;
}

float nf_dot_q8_0_ref(long n, const void *vx, const void *vy) {
    const nf_block_q8_0 *x = vx; const nf_block_q8_0 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        int sumi = 0;
        for (int j = 0; j < 32; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
        sumf = fmaf((float)sumi, nf_f16(x[ib].d) * nf_f16(y[ib].d), sumf);
    }
    return sumf;
}

float nf_dot_iq4_nl_ref(long n, const void *vx, const void *vy) {
    const nf_block_iq4_nl *x = vx; const nf_block_q8_0 *y = vy;
    float sumf = 0;
    for (long ib = 0; ib < n / NF_QK; ++ib) {
        int sumi1 = 0, sumi2 = 0;
        for (int j = 0; j < 16; ++j) {
            sumi1 += y[ib].qs[j] * nf_kvalues_iq4nl[x[ib].qs[j] & 0xf];
            sumi2 += y[ib].qs[j + 16] * nf_kvalues_iq4nl[x[ib].qs[j] >> 4];
        }
        sumf += nf_f16(x[ib].d) * nf_f16(y[ib].d) * (sumi1 + sumi2);
    }
    return sumf;
}

float nf_dot_q4_K_ref(long n, const void *vx, const void *vy) {
    const nf_block_q4_K *x = vx; const nf_block_q8_K *y = vy;
    float sums[8] = {0}, sumf = 0;
    for (long i = 0; i < n / NF_QK_K; ++i) {
        uint8_t scales[8], mins[8];
        nf_q4_K_scales(x[i].scales, scales, mins);
        int8_t a[NF_QK_K];
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 32; ++l) {
                a[64 * j + l] = (int8_t)(x[i].qs[32 * j + l] & 0xF);
                a[64 * j + 32 + l] = (int8_t)(x[i].qs[32 * j + l] >> 4);
            }
        int sumi = 0;
        for (int j = 0; j < 16; ++j) sumi += y[i].bsums[j] * mins[j / 2];
        int32_t aux32[8] = {0};
        for (int j = 0; j < 8; ++j)
            for (int k = 0; k < 4; ++k)
                for (int l = 0; l < 8; ++l) aux32[l] += scales[j] * (y[i].qs[32 * j + 8 * k + l] * a[32 * j + 8 * k + l]);
        const float d = nf_f16(x[i].d) * y[i].d;
        for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
        sumf -= nf_f16(x[i].dmin) * y[i].d * sumi;
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

float nf_dot_q6_K_ref(long n, const void *vx, const void *vy) {
    const nf_block_q6_K *x = vx; const nf_block_q8_K *y = vy;
    float sums[8] = {0}, sumf = 0;
    for (long i = 0; i < n / NF_QK_K; ++i) {
        int8_t a[NF_QK_K];
        const uint8_t *ql = x[i].ql, *qh = x[i].qh;
        for (int j = 0; j < NF_QK_K; j += 128, ql += 64, qh += 32)
            for (int l = 0; l < 32; ++l) {
                a[j + l] = (int8_t)((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                a[j + l + 32] = (int8_t)((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                a[j + l + 64] = (int8_t)((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                a[j + l + 96] = (int8_t)((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            }
        int32_t aux32[8] = {0};
        for (int j = 0; j < 16; ++j)
            for (int k = 0; k < 2; ++k)
                for (int l = 0; l < 8; ++l) aux32[l] += x[i].scales[j] * (y[i].qs[16 * j + 8 * k + l] * a[16 * j + 8 * k + l]);
        const float d = nf_f16(x[i].d) * y[i].d;
        for (int l = 0; l < 8; ++l) sums[l] += d * aux32[l];
    }
    for (int l = 0; l < 8; ++l) sumf += sums[l];
    return sumf;
}

// --- input quantizers -------------------------------------------------------------------------

/// ggml's nearest_int: round half to even through the 1.5·2²³ trick (|x| < 2²²).
static inline int nf_nearest_int(float f) {
    float v = f + 12582912.f; int i; memcpy(&i, &v, 4);
    return (i & 0x007fffff) - 0x00400000;
}

void nf_ggml_quantize_input_row(int inputType, const float *x, long n, void *vy) {
    if (inputType == NF_GGML_Q8_K) {
        nf_block_q8_K *y = vy;
        for (long i = 0; i < n / NF_QK_K; ++i, x += NF_QK_K) {
            float max = 0, amax = 0;
            for (int j = 0; j < NF_QK_K; ++j) { const float ax = fabsf(x[j]); if (ax > amax) { amax = ax; max = x[j]; } }
            if (!amax) { memset(&y[i], 0, sizeof(nf_block_q8_K)); continue; }
            const float iscale = -127.f / max;
            for (int j = 0; j < NF_QK_K; ++j) { const int v = nf_nearest_int(iscale * x[j]); y[i].qs[j] = v < 127 ? v : 127; }
            for (int j = 0; j < 16; ++j) {
                int sum = 0;
                for (int k = 0; k < 16; ++k) sum += y[i].qs[16 * j + k];
                y[i].bsums[j] = (int16_t)sum;
            }
            y[i].d = 1 / iscale;
        }
        return;
    }
    const int q81 = inputType == NF_GGML_Q8_1;
    const size_t blockBytes = q81 ? sizeof(nf_block_q8_1) : sizeof(nf_block_q8_0);
    for (long i = 0; i < n / NF_QK; ++i, x += NF_QK) {
        uint8_t *block = (uint8_t *)vy + i * blockBytes;
        int8_t *qs = (int8_t *)(block + (q81 ? 4 : 2));
        float amax = 0;
        for (int j = 0; j < NF_QK; ++j) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < NF_QK; ++j) { qs[j] = (int8_t)roundf(x[j] * id); sum += qs[j]; }
        const uint16_t dh = nf_to_f16(d);
        memcpy(block, &dh, 2);
        if (q81) { const uint16_t sh = nf_to_f16(sum * d); memcpy(block + 2, &sh, 2); }
    }
}

size_t nf_ggml_input_row_bytes(int inputType, long n) {
    switch (inputType) {
    case NF_GGML_Q8_0: return (size_t)(n / NF_QK) * sizeof(nf_block_q8_0);
    case NF_GGML_Q8_1: return (size_t)(n / NF_QK) * sizeof(nf_block_q8_1);
    case NF_GGML_Q8_K: return (size_t)(n / NF_QK_K) * sizeof(nf_block_q8_K);
    default: return 0;
    }
}

// --- dispatch ---------------------------------------------------------------------------------

int nf_ggml_dot_input_type(int type) {
    switch (type) {
    case NF_GGML_Q4_0: case NF_GGML_Q5_0: case NF_GGML_Q8_0: case NF_GGML_IQ4_NL: return NF_GGML_Q8_0;
    case NF_GGML_Q4_1: case NF_GGML_Q5_1: return NF_GGML_Q8_1;
    case NF_GGML_Q4_K: case NF_GGML_Q6_K: return NF_GGML_Q8_K;
    default: return -1;
    }
}

/// The kernel for `type` on `path`, falling back to AVX2 and then to the reference.
static nf_dot_fn nf_dot_kernel(int type, int path, int *exact) {
    nf_dot_fn vnni = 0, avx2 = 0, ref = 0;
    switch (type) {
    case NF_GGML_Q4_0: avx2 = nf_dot_q4_0_avx2; ref = nf_dot_q4_0_ref; break;
    case NF_GGML_Q4_1: avx2 = nf_dot_q4_1_avx2; ref = nf_dot_q4_1_ref; break;
    case NF_GGML_Q5_0: ref = nf_dot_q5_0_ref; break;
    case NF_GGML_Q5_1: ref = nf_dot_q5_1_ref; break;
    case NF_GGML_Q8_0: avx2 = nf_dot_q8_0_avx2; ref = nf_dot_q8_0_ref; break;
    case NF_GGML_IQ4_NL: vnni = nf_dot_iq4_nl_vnni; avx2 = nf_dot_iq4_nl_avx2; ref = nf_dot_iq4_nl_ref; break;
    case NF_GGML_Q4_K: avx2 = nf_dot_q4_K_avx2; ref = nf_dot_q4_K_ref; break;
    case NF_GGML_Q6_K: avx2 = nf_dot_q6_K_avx2; ref = nf_dot_q6_K_ref; break;
    default: *exact = 0; return 0;
    }
    nf_dot_fn chosen = path == NF_DOT_AVX512VNNI ? vnni : path == NF_DOT_AVX2 ? avx2 : ref;
    *exact = chosen != 0;
    if (!chosen && path == NF_DOT_AVX512VNNI) chosen = avx2;
    return chosen ? chosen : ref;
}

int nf_ggml_dot_has_path(int type, int path) {
    // Q4_0, Q4_1 and Q8_0 have AVX-512 VNNI kernels on the interleaved layout (nf_ggml_dot_interleaved).
    if (path == NF_DOT_AVX512VNNI && nf_ggml_interleaved_block_bytes(type) > 0) return 1;
    int exact = 0;
    nf_dot_kernel(type, path, &exact);
    return exact;
}

/// The four-row kernel of `type` on `path`, or 0 (then rows go one at a time).
static nf_dot4_fn nf_dot4_kernel(int type, int path) {
    if (path == NF_DOT_REFERENCE) return 0;
    switch (type) {
    case NF_GGML_Q4_0: return nf_dot4_q4_0_avx2;
    case NF_GGML_Q4_1: return nf_dot4_q4_1_avx2;
    case NF_GGML_Q8_0: return nf_dot4_q8_0_avx2;
    default: return 0;
    }
}

/// The 2×4 tile kernel of `type` on `path`, or 0.
static nf_dot24_fn nf_dot24_kernel(int type, int path) {
    if (path == NF_DOT_REFERENCE) return 0;
    switch (type) {
    case NF_GGML_Q4_0: return nf_dot24_q4_0_avx2;
    case NF_GGML_Q4_1: return nf_dot24_q4_1_avx2;
    case NF_GGML_Q8_0: return nf_dot24_q8_0_avx2;
    default: return 0;
    }
}

int nf_ggml_dot_rows(int type, int path, long n, const void *w, size_t wRowBytes, long rows,
                     const void *y, size_t yRowBytes, long m, float *out, long ldo) {
    int exact;
    const nf_dot_fn dot = nf_dot_kernel(type, path, &exact);
    if (!dot) return -1;
    const nf_dot4_fn dot4 = m >= 4 ? nf_dot4_kernel(type, path) : 0;
    const nf_dot24_fn dot24 = m >= 4 ? nf_dot24_kernel(type, path) : 0;
    const uint8_t *yb = y;
    long r = 0;
    // Weight rows outer, in pairs: their blocks stay in L1 while every input row passes (the prompt's GEMM).
    if (dot24)
        for (; r + 2 <= rows; r += 2) {
            const uint8_t *w0 = (const uint8_t *)w + r * wRowBytes, *w1 = w0 + wRowBytes;
            long i = 0;
            for (; i + 4 <= m; i += 4) {
                const void *const ys[4] = {yb + i * yRowBytes, yb + (i + 1) * yRowBytes, yb + (i + 2) * yRowBytes, yb + (i + 3) * yRowBytes};
                float o0[4], o1[4];
                dot24(n, w0, w1, ys, o0, o1);
                for (int k = 0; k < 4; ++k) { out[(i + k) * ldo + r] = o0[k]; out[(i + k) * ldo + r + 1] = o1[k]; }
            }
            for (; i < m; ++i) {
                out[i * ldo + r] = dot(n, w0, yb + i * yRowBytes);
                out[i * ldo + r + 1] = dot(n, w1, yb + i * yRowBytes);
            }
        }
    for (; r < rows; ++r) {
        const uint8_t *wr = (const uint8_t *)w + r * wRowBytes;
        long i = 0;
        if (dot4)
            for (; i + 4 <= m; i += 4) {
                const void *const ys[4] = {yb + i * yRowBytes, yb + (i + 1) * yRowBytes, yb + (i + 2) * yRowBytes, yb + (i + 3) * yRowBytes};
                float o[4];
                dot4(n, wr, ys, o);
                for (int k = 0; k < 4; ++k) out[(i + k) * ldo + r] = o[k];
            }
        for (; i < m; ++i) out[i * ldo + r] = dot(n, wr, yb + i * yRowBytes);
    }
    return 0;
}
