// Dot products directly on ggml's packed blocks, as llama.cpp's CPU backend computes them: a
// weight row in its GGUF block type against an input row quantized to the type's `vec_dot_type`
// (Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants). Integer products
// within each block, per-block scale products in float (ggml's `ggml_vec_dot_*_generic`).
// Used by NanoRuntime's GGMLLinear; paths are chosen per call (KernelSet decides in Swift).
#ifndef NANOFORGE_GGML_DOT_KERNELS_H
#define NANOFORGE_GGML_DOT_KERNELS_H
#include <stddef.h>
#include <stdint.h>

/// ggml type ids (GGUF `ggml_type`) of the blocks these kernels read.
enum {
    NF_GGML_Q4_0 = 2, NF_GGML_Q4_1 = 3, NF_GGML_Q5_0 = 6, NF_GGML_Q5_1 = 7, NF_GGML_Q8_0 = 8,
    NF_GGML_Q8_1 = 9, NF_GGML_Q4_K = 12, NF_GGML_Q6_K = 14, NF_GGML_Q8_K = 15, NF_GGML_IQ4_NL = 20,
};

/// Which implementation runs: the plain loops (ggml's reference arithmetic), AVX2 (maddubs), or
/// AVX-512 VL + VNNI (vpdpbusd; Q4_0, Q4_1 and Q8_0 through nf_ggml_dot_interleaved on their
/// interleaved layout, IQ4_NL on rows; types without such a kernel run their AVX2 one).
enum { NF_DOT_REFERENCE = 0, NF_DOT_AVX2 = 1, NF_DOT_AVX512VNNI = 2 };

/// The input block type a weight of `type` meets (NF_GGML_Q8_0 / Q8_1 / Q8_K), or -1 when there is
/// no kernel for `type`.
int nf_ggml_dot_input_type(int type);

/// Whether `path` has its own kernel for `type` (1), or runs another path's (0).
int nf_ggml_dot_has_path(int type, int path);

/// Bytes of one input row of `n` values (n a multiple of the input type's block size).
size_t nf_ggml_input_row_bytes(int inputType, long n);

/// One row of `n` floats into input blocks of `inputType`, exactly as ggml's
/// `quantize_row_q8_0_ref` / `quantize_row_q8_1_ref` / `quantize_row_q8_K_ref` write them.
void nf_ggml_quantize_input_row(int inputType, const float *x, long n, void *y);

/// out[i · ldo + r] = dot(weight row r, input row i) for r < rows, i < m: `w` holds `rows` rows of
/// `wRowBytes`, `y` holds `m` input rows of `yRowBytes` (from nf_ggml_quantize_input_row), each row
/// `n` values. Returns 0, or -1 when `type` has no kernel.
int nf_ggml_dot_rows(int type, int path, long n, const void *w, size_t wRowBytes, long rows,
                     const void *y, size_t yRowBytes, long m, float *out, long ldo);

/// The AVX-512 VNNI layout of Q4_0, Q4_1 and Q8_0 matrices (ggml_interleaved.c): rows in groups of
/// 16 (the last padded with zero rows), each group block by block; per block the 16 rows' f16
/// scales (Q4_1: then their minimums) and the codes in 64-byte chunks, chunk j holding code bytes
/// 4j..4j+3 of each row (Q8_0 codes stored as x + 128). Bytes per group and block, or 0 for
/// another type.
long nf_ggml_interleaved_block_bytes(int type);

/// `rows` stored rows of `n` values (`src`, file layout) into the interleaved layout (`dst`,
/// ceil(rows / 16) · n / 32 · nf_ggml_interleaved_block_bytes(type) bytes). Returns 0, or -1.
int nf_ggml_interleave(int type, long n, long rows, const void *src, void *dst);

/// Row `row` of an interleaved matrix back into its stored blocks (`dst`: one row in file layout).
int nf_ggml_deinterleave_row(int type, long n, const void *src, long row, void *dst);

/// out[i · ldo + r] = dot(weight row firstRow + r, input row i) for r < rows, i < m, on an
/// interleaved matrix `w` (firstRow a multiple of 16): exactly the plain loops' values. AVX-512
/// VNNI only. Returns 0, or -1 for another type or no memory.
int nf_ggml_dot_interleaved(int type, long n, const void *w, long firstRow, long rows, const void *y, size_t yRowBytes,
                            long m, float *out, long ldo);

#endif
