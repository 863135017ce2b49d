// ggml's block layouts (ggml-common.h) and the shared helpers of the ggml_dot_* files.
#ifndef NANOFORGE_GGML_BLOCKS_H
#define NANOFORGE_GGML_BLOCKS_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define NF_QK 32     // values per block of the legacy types and Q8_0/Q8_1
#define NF_QK_K 256  // values per K-quant super-block

typedef struct { uint16_t d; uint8_t qs[16]; } nf_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[16]; } nf_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; } nf_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; } nf_block_q5_1;
typedef struct { uint16_t d; int8_t qs[32]; } nf_block_q8_0;
typedef struct { uint16_t d, s; int8_t qs[32]; } nf_block_q8_1;
typedef struct { uint16_t d; uint8_t qs[16]; } nf_block_iq4_nl;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; } nf_block_q4_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } nf_block_q6_K;
typedef struct { float d; int8_t qs[256]; int16_t bsums[16]; } nf_block_q8_K;

_Static_assert(sizeof(nf_block_q4_0) == 18 && sizeof(nf_block_q4_1) == 20 && sizeof(nf_block_q5_0) == 22 &&
               sizeof(nf_block_q5_1) == 24 && sizeof(nf_block_q8_0) == 34 && sizeof(nf_block_q8_1) == 36 &&
               sizeof(nf_block_q4_K) == 144 && sizeof(nf_block_q6_K) == 210 && sizeof(nf_block_q8_K) == 292,
               "ggml block sizes");

/// IQ4_NL's 16 levels (ggml's kvalues_iq4nl).
static const int8_t nf_kvalues_iq4nl[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

/// IEEE half ↔ float with round-to-nearest-even (F16C, as GGML_FP16_TO_FP32 / GGML_FP32_TO_FP16).
/// The empty asm keeps the whole vector live: without it the compiler, needing lane 0 only, turns
/// the conversion into a vpinsrw that merges into any register, in the tile kernels an
/// accumulator, which chained every block's scale behind the previous block's FMA (2.5× slower).
static inline float nf_f16(uint16_t h) {
    __m128i v = _mm_cvtsi32_si128(h);
    __asm__("" : "+x"(v));
    return _mm_cvtss_f32(_mm_cvtph_ps(v));
}
static inline uint16_t nf_to_f16(float f) { return _cvtss_sh(f, 0); }

/// The sum of a vector's 8 floats (the tile kernels' final reduction; inlined into callers of any target).
static inline __attribute__((always_inline)) float nf_hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/// A 4-bit block's 32 codes as bytes: low nibbles of the 16 bytes, then the high ones.
static inline __attribute__((always_inline)) __m256i nf_nibbles32(const uint8_t *qs) {
    const __m128i t = _mm_loadu_si128((const __m128i *)qs);
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(t, 4), t), _mm256_set1_epi8(0x0F));
}

/// Q4_K's 6-bit scales and mins of the 8 sub-blocks (ggml's utmp unpacking).
static inline void nf_q4_K_scales(const uint8_t s[12], uint8_t scales[8], uint8_t mins[8]) {
    uint32_t utmp[4];
    memcpy(utmp, s, 12);
    utmp[3] = ((utmp[2] >> 4) & 0x0f0f0f0f) | (((utmp[1] >> 6) & 0x03030303) << 4);
    const uint32_t uaux = utmp[1] & 0x3f3f3f3f;
    utmp[1] = (utmp[2] & 0x0f0f0f0f) | (((utmp[0] >> 6) & 0x03030303) << 4);
    utmp[2] = uaux;
    utmp[0] &= 0x3f3f3f3f;
    memcpy(scales, &utmp[0], 8);
    memcpy(mins, &utmp[2], 8);
}

/// One dot product of n values: weight blocks `vx` against input blocks `vy`.
typedef float (*nf_dot_fn)(long n, const void *vx, const void *vy);

// The plain loops (ggml_dot_reference.c).
float nf_dot_q4_0_ref(long n, const void *vx, const void *vy);
float nf_dot_q4_1_ref(long n, const void *vx, const void *vy);
float nf_dot_q5_0_ref(long n, const void *vx, const void *vy);
float nf_dot_q5_1_ref(long n, const void *vx, const void *vy);
float nf_dot_q8_0_ref(long n, const void *vx, const void *vy);
float nf_dot_iq4_nl_ref(long n, const void *vx, const void *vy);
float nf_dot_q4_K_ref(long n, const void *vx, const void *vy);
float nf_dot_q6_K_ref(long n, const void *vx, const void *vy);
// AVX2 (ggml_dot_avx2.c).
float nf_dot_q4_0_avx2(long n, const void *vx, const void *vy);
float nf_dot_q4_1_avx2(long n, const void *vx, const void *vy);
float nf_dot_q8_0_avx2(long n, const void *vx, const void *vy);
float nf_dot_iq4_nl_avx2(long n, const void *vx, const void *vy);
float nf_dot_q4_K_avx2(long n, const void *vx, const void *vy);
float nf_dot_q6_K_avx2(long n, const void *vx, const void *vy);
// AVX-512 VL + VNNI (ggml_dot_vnni.c).
float nf_dot_iq4_nl_vnni(long n, const void *vx, const void *vy);
// One weight row against four input rows (ggml_dot_x4.c): out[r] = dot(vx, vy[r]).
typedef void (*nf_dot4_fn)(long n, const void *vx, const void *const vy[4], float out[4]);
void nf_dot4_q4_0_avx2(long n, const void *vx, const void *const vy[4], float out[4]);
void nf_dot4_q4_1_avx2(long n, const void *vx, const void *const vy[4], float out[4]);
void nf_dot4_q8_0_avx2(long n, const void *vx, const void *const vy[4], float out[4]);
// Two weight rows × four input rows (ggml_dot_x4.c): out0[r] = dot(vx0, vy[r]), out1[r] = dot(vx1, vy[r]).
typedef void (*nf_dot24_fn)(long n, const void *vx0, const void *vx1, const void *const vy[4], float out0[4], float out1[4]);
void nf_dot24_q4_0_avx2(long n, const void *vx0, const void *vx1, const void *const vy[4], float out0[4], float out1[4]);
void nf_dot24_q4_1_avx2(long n, const void *vx0, const void *vx1, const void *const vy[4], float out0[4], float out1[4]);
void nf_dot24_q8_0_avx2(long n, const void *vx0, const void *vx1, const void *const vy[4], float out0[4], float out1[4]);

#endif
