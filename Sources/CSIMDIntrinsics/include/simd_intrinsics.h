// One-line wrappers of x86 intrinsics that Swift's SIMD types cannot express, for the integer
// GEMMs (Int8GEMM, U8S8GEMM). Why this exists: AVX2's vpmaddwd (16 Int16×Int16 products summed
// pairwise into 8 Int32) and vpmaddubsw (32 UInt8×Int8 products summed pairwise into 16 Int16,
// saturating) are the integer GEMMs' multiply-adds, and no Swift SIMD expression lowers to them
// (the even/odd-lane forms compile to vpmovsxwd + vpmulld). clang's __m256i imports as
// SIMD4<Int64>. always_inline: with plain `static inline`, LLVM left calls in the large
// specialized Swift closure (6 GFLOP/s).
// Keep this file to one-line wrappers: packing and blocking stay in Swift (threading: worker_pool.h).
#ifndef NANOFORGE_SIMD_INTRINSICS_H
#define NANOFORGE_SIMD_INTRINSICS_H
// The module's other headers: CPU features and the target-attributed kernels (plain prototypes).
#include "cpu_features.h"
#include "vnni_kernels.h"
#include "dequant_kernels.h"
#include "packed_gemv.h"
#include "fastmath_kernels.h"
#include "norm_kernels.h"
#include "attention_kernels.h"
#include "worker_pool.h"
#if defined(__AVX2__)
#include <immintrin.h>
__attribute__((always_inline)) static inline __m256i nf_madd_epi16(__m256i a, __m256i b) { return _mm256_madd_epi16(a, b); }
__attribute__((always_inline)) static inline __m256i nf_maddubs_epi16(__m256i u8, __m256i s8) { return _mm256_maddubs_epi16(u8, s8); }
#endif
#endif
