// CPU features the kernels dispatch on, read once by NanoTensor's KernelSet (docs/architecture.md,
// "CPU-feature dispatch").
#ifndef NANOFORGE_CPU_FEATURES_H
#define NANOFORGE_CPU_FEATURES_H

/// AVX2 and FMA (x86-64-v3, the build's baseline).
#define NF_CPU_AVX2_FMA 1
/// AVX-512 F/BW/VL with VNNI (vpdpbusd on zmm), and the OS saves the AVX-512 state.
#define NF_CPU_AVX512_VNNI 2
/// AVX-VNNI (VEX-encoded vpdpbusd on ymm), and the OS saves the AVX state.
#define NF_CPU_AVX_VNNI 4

/// The NF_CPU_* bits this CPU and OS support: CPUID leaves 1 and 7 and XGETBV(0).
int nf_cpu_features(void);

#endif
