// One-line wrappers of x86 intrinsics that Swift's SIMD types cannot express, for Int8GEMM.
// Why this exists: AVX2's vpmaddwd (16 Int16×Int16 products summed pairwise into 8 Int32) is
// the integer GEMM's multiply-add, and no Swift SIMD expression lowers to it (the even/odd-lane
// forms compile to vpmovsxwd + vpmulld). clang's __m256i imports as SIMD4<Int64>. always_inline:
// with plain `static inline`, LLVM left calls in the large specialized Swift closure (6 GFLOP/s).
// Keep this file to one-line wrappers: packing, blocking and threading stay in Swift.
#ifndef NANOFORGE_SIMD_INTRINSICS_H
#define NANOFORGE_SIMD_INTRINSICS_H
#if defined(__AVX2__)
#include <immintrin.h>
__attribute__((always_inline)) static inline __m256i nf_madd_epi16(__m256i a, __m256i b) { return _mm256_madd_epi16(a, b); }
#endif
#endif
