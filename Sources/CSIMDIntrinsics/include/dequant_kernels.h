// AVX-512 dequantization of one quantization group into fp32 (DequantKernels, NanoRuntime), with a
// per-function target attribute: Swift code is built for x86-64-v3 and cannot use zmm registers.
// Each computes dst[i] = (float)code[i] * scale + offset as a multiply then an add (not fused), as
// the Swift AVX2 path does, so both give the same bits.
#ifndef NANOFORGE_DEQUANT_KERNELS_H
#define NANOFORGE_DEQUANT_KERNELS_H
#include <stdint.h>

/// n int8 codes (signed) or uint8 codes (!is_signed), any n.
void nf_dequant_8bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n);
/// n 4-bit codes, n a multiple of 32: per 16 bytes, low nibbles are codes 0…15, high nibbles 16…31
/// (PackedWeight's int4 layout); signed codes are sign-extended.
void nf_dequant_4bit_avx512(const uint8_t *src, int is_signed, float scale, float offset, float *dst, long n);

#endif
