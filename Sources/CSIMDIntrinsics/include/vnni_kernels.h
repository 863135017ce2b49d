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

#endif
