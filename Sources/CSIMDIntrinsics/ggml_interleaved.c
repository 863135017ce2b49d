// ggml blocks of 16 weight rows interleaved (the layout the AVX-512 VNNI group kernels read), and
// back. Plain C: the layout is a permutation of the stored bytes (Q8_0 codes also offset by 128),
// so a matrix interleaved and restored is byte for byte the file's.
#include "ggml_blocks.h"
#include "ggml_dot_kernels.h"

/// Bytes of one block column of a group: 16 f16 scales (Q4_1: and 16 f16 minimums), then the codes
/// in chunks of 64 bytes, chunk j holding bytes 4j..4j+3 of each row's codes, row after row.
long nf_ggml_interleaved_block_bytes(int type) {
    switch (type) {
    case NF_GGML_Q4_0: return 32 + 256;
    case NF_GGML_Q4_1: return 64 + 256;
    case NF_GGML_Q8_0: return 32 + 512;
    default: return 0;
    }
}

/// Where one stored block's scale, minimum and codes live in the group layout.
typedef struct { const uint8_t *qs; int codeBytes; uint16_t d, m; } nf_block_view;

static nf_block_view nf_view(int type, const uint8_t *block) {
    nf_block_view v = {0, 0, 0, 0};
    switch (type) {
    case NF_GGML_Q4_0: { const nf_block_q4_0 *b = (const void *)block; v.qs = b->qs; v.codeBytes = 16; v.d = b->d; break; }
    case NF_GGML_Q4_1: { const nf_block_q4_1 *b = (const void *)block; v.qs = b->qs; v.codeBytes = 16; v.d = b->d; v.m = b->m; break; }
    case NF_GGML_Q8_0: { const nf_block_q8_0 *b = (const void *)block; v.qs = (const uint8_t *)b->qs; v.codeBytes = 32; v.d = b->d; break; }
    }
    return v;
}

static long nf_stored_block_bytes(int type) {
    return type == NF_GGML_Q4_0 ? 18 : type == NF_GGML_Q4_1 ? 20 : type == NF_GGML_Q8_0 ? 34 : 0;
}

int nf_ggml_interleave(int type, long n, long rows, const void *src, void *dst) {
    const long blockBytes = nf_ggml_interleaved_block_bytes(type), stored = nf_stored_block_bytes(type);
    if (!blockBytes || n % NF_QK) return -1;
    const long nb = n / NF_QK, groups = (rows + 15) / 16;
    const uint8_t flip = type == NF_GGML_Q8_0 ? 0x80 : 0;   // Q8_0 codes as unsigned x + 128
    const int scales = type == NF_GGML_Q4_1 ? 64 : 32;
    uint8_t *out = dst;
    for (long g = 0; g < groups; ++g)
        for (long ib = 0; ib < nb; ++ib) {
            uint8_t *b = out + (g * nb + ib) * blockBytes;
            uint16_t *d = (uint16_t *)b, *m = (uint16_t *)(b + 32);
            for (int r = 0; r < 16; ++r) {
                const long row = g * 16 + r;
                if (row >= rows) {   // padding rows: scale 0, codes of value 0
                    d[r] = 0;
                    if (type == NF_GGML_Q4_1) m[r] = 0;
                    for (int c = 0; c < blockBytes - scales; c += 64) memset(b + scales + c + r * 4, type == NF_GGML_Q8_0 ? 0x80 : 0x88, 4);
                    continue;
                }
                const nf_block_view v = nf_view(type, (const uint8_t *)src + (row * nb + ib) * stored);
                d[r] = v.d;
                if (type == NF_GGML_Q4_1) m[r] = v.m;
                const uint32_t flip4 = flip * 0x01010101u;
                for (int j = 0; j < v.codeBytes / 4; ++j) {
                    uint32_t word;
                    memcpy(&word, v.qs + 4 * j, 4);
                    word ^= flip4;
                    memcpy(b + scales + j * 64 + r * 4, &word, 4);
                }
            }
        }
    return 0;
}

int nf_ggml_deinterleave_row(int type, long n, const void *src, long row, void *dst) {
    const long blockBytes = nf_ggml_interleaved_block_bytes(type), stored = nf_stored_block_bytes(type);
    if (!blockBytes || n % NF_QK) return -1;
    const long nb = n / NF_QK, g = row / 16, r = row % 16;
    const uint8_t flip = type == NF_GGML_Q8_0 ? 0x80 : 0;
    const int scales = type == NF_GGML_Q4_1 ? 64 : 32, codeBytes = type == NF_GGML_Q8_0 ? 32 : 16;
    for (long ib = 0; ib < nb; ++ib) {
        const uint8_t *b = (const uint8_t *)src + (g * nb + ib) * blockBytes;
        uint8_t *o = (uint8_t *)dst + ib * stored;
        uint16_t d, m;
        memcpy(&d, b + 2 * r, 2);
        memcpy(o, &d, 2);
        if (type == NF_GGML_Q4_1) { memcpy(&m, b + 32 + 2 * r, 2); memcpy(o + 2, &m, 2); }
        uint8_t *qs = o + (type == NF_GGML_Q4_1 ? 4 : 2);
        for (int j = 0; j < codeBytes / 4; ++j)
            for (int t = 0; t < 4; ++t) qs[4 * j + t] = b[scales + j * 64 + r * 4 + t] ^ flip;
    }
    return 0;
}
