// u8 × s8 → int32 micro-kernels on vpdpbusd (VNNI), compiled with per-function target attributes
// so that one x86-64-v3 binary carries them; called only where KernelSet found the CPU feature.
// Why whole micro-kernels in C: Swift code is compiled for x86-64-v3 and cannot target AVX-512 or
// AVX-VNNI per function. Operand layouts are U8S8GEMM's (NanoRuntime); blocking, packing,
// zero-point correction and threading stay in Swift.
#ifndef NANOFORGE_VNNI_KERNELS_H
#define NANOFORGE_VNNI_KERNELS_H
#include <stdint.h>

/// 8 rows × 32 columns, AVX-512 VNNI (16 zmm accumulators). a0, a1: two 4-row blocks of
/// activation codes [quads][4 rows][4 bytes]; w0, w1: two 16-column blocks of weight codes
/// [quads][16 columns][4 bytes]. out [8][32]: Σ over 4·quads k of a · w, wrapping Int32.
void nf_u8s8_8x32_avx512vnni(const uint8_t *a0, const uint8_t *a1, const int8_t *w0, const int8_t *w1,
                             long quads, int32_t *out);

/// 4 rows × 16 columns on 256-bit vectors, AVX-VNNI (VEX vpdpbusd; 8 ymm accumulators, as fits 16
/// registers). Layouts as above, one block each; out [4][16].
void nf_u8s8_4x16_avxvnni(const uint8_t *a, const int8_t *w, long quads, int32_t *out);

/// The same 256-bit kernel with the EVEX encoding (AVX-512 VL + VNNI): the AVX-VNNI path's
/// arithmetic, testable on AVX-512 machines that lack the VEX form (Zen 4).
void nf_u8s8_4x16_avx512vl(const uint8_t *a, const int8_t *w, long quads, int32_t *out);

/// One worker's whole U8S8GEMM forward on AVX-512 VNNI, the float epilogue fused (no Int32 tile
/// round trip through memory): rows [0, m) in chunks of `chunkRows` (a multiple of 8), 16-column
/// blocks [blockBegin, blockEnd) two at a time, 8-row tiles as `nf_u8s8_8x32_avx512vnni`; a: the
/// codes in 4-row blocks of quads · 16 bytes (rows padded to a multiple of 4), w: the weight blocks.
/// out[i · n + c] = float(Σ_k a · w − zeroPoints[i] · columnSums[c]) · (activationScales[i] ·
/// weightScales[c]) + bias[c] (bias NULL: + 0), for c < n; the same operations as Swift's
/// FloatTile (wrapping Int32, one correctly rounded conversion, multiply, multiply, add).
/// columnSums and weightScales are padded to whole blocks.
void nf_u8s8_gemm_avx512vnni(const uint8_t *a, long m, long quads, const int8_t *w, long blockBegin, long blockEnd,
                             const int32_t *columnSums, const int32_t *zeroPoints, const float *activationScales,
                             const float *weightScales, const float *bias, float *out, long n, long chunkRows);

/// max |x[i]| over i < n, NaN ignored (0 for an empty or all-NaN row), AVX-512: Int8GEMM.rowScale's loop.
float nf_absmax_avx512(const float *x, long n);

/// Int8GEMM's VNNI activation codes for the 4-row blocks [firstBlock, lastBlock) of x [m, columns]:
/// row i's code for column c is round(x[i, c] · inverse[i]) to nearest-even, clamped to ±127,
/// plus 128, at byte block·quads·16 + (c / 4)·16 + (i % 4)·4 + c % 4 of codes; columns past
/// `columns` within the last quad and rows past m get 128 (value 0). AVX-512 F/BW.
void nf_quantize_offset_blocks_avx512(const float *x, long m, long columns, long quads, const float *inverse,
                                      long firstBlock, long lastBlock, uint8_t *codes);

#endif
