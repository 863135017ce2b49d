// CPUID and XGETBV directly (not __builtin_cpu_supports): one place that also checks that the
// OS enabled the register state (XCR0) each path needs, and that knows AVX-VNNI (leaf 7.1).
#include "cpu_features.h"
#include <cpuid.h>
#include <stdint.h>

static uint64_t nf_xcr0(void) {
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

int nf_cpu_features(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx) return 0;
    const uint64_t xcr0 = nf_xcr0();
    // XMM and YMM state (bits 1, 2); opmask, upper ZMM0-15 and ZMM16-31 (bits 5, 6, 7).
    const int osAVX = (xcr0 & 0x6) == 0x6, osAVX512 = osAVX && (xcr0 & 0xE0) == 0xE0;
    if (!osAVX || __get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    const int avx512vnni = (c >> 11) & 1;
    const unsigned subleaves = a;
    int features = 0;
    if (avx2 && fma) features |= NF_CPU_AVX2_FMA;
    if ((features & NF_CPU_AVX2_FMA) && osAVX512 && avx512f && avx512bw && avx512vl && avx512vnni) features |= NF_CPU_AVX512_VNNI;
    if (subleaves >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if ((features & NF_CPU_AVX2_FMA) && ((a >> 4) & 1)) features |= NF_CPU_AVX_VNNI;
    }
    return features;
}
