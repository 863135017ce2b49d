// Matrix products of a few input rows (decoding: one token per sequence) on nanoforge's packed
// int8 / int4 weights (NanoRuntime's PackedWeight), dequantizing each weight in registers: the
// weight value is (float)code · scale + offset, a multiply then an add, exactly the value the
// dequantize-on-the-fly panels (dequant_kernels.h) and the dense model hold; activations stay
// Float32. Only the order of the float additions differs between paths.
#ifndef NANOFORGE_PACKED_GEMV_H
#define NANOFORGE_PACKED_GEMV_H
#include <stddef.h>
#include <stdint.h>

/// Which implementation runs: the plain loop, AVX2 + FMA (8 lanes), AVX-512 F/BW (16 lanes).
enum { NF_GEMV_REFERENCE = 0, NF_GEMV_AVX2 = 1, NF_GEMV_AVX512 = 2 };

/// out[i · ldo + r] = Σ_j w[r][j] · x[i · cols + j] for r < rows, i < m (1 ≤ m ≤ 4).
/// `codes`: `rows` rows of `rowBytes` (int8: one code per byte; 4-bit: per 32 codes, 16 bytes
/// holding codes 0…15 in the low nibbles and 16…31 in the high ones); `scales` / `offsets`
/// (nullable): `groupsPerRow` per row, each group `group` codes (4-bit: a multiple of 32).
/// Returns 0, or -1 for an m or a layout it does not take.
int nf_packed_gemv(int path, int bits, int is_signed, const uint8_t *codes, size_t rowBytes, const float *scales,
                   const float *offsets, long groupsPerRow, long group, long rows, long cols, const float *x, long m,
                   float *out, long ldo);

#endif
