/*
 * blake2s: BLAKE2s-256 (RFC 7693, unkeyed) of an 8 KiB pseudo-random message, streamed through a
 * 64-byte block buffer with memcpy/memset. Checksum: the first 8 digest bytes as a little-endian
 * u64 (check.mjs compares them with node's crypto "blake2s256").
 */
#include "bench.h"

#define MESSAGE_LEN 8192

static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                               0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

static const uint8_t sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

struct blake2s {
    uint32_t h[8];
    uint64_t counter;
    uint8_t block[64];
    uint32_t filled;
};

static uint8_t message[MESSAGE_LEN];

static uint32_t rotr(uint32_t x, uint32_t n) { return (x >> n) | (x << (32 - n)); }

static uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define G(a, b, c, d, x, y)                                                                        \
    do {                                                                                           \
        v[a] = v[a] + v[b] + (x);                                                                  \
        v[d] = rotr(v[d] ^ v[a], 16);                                                              \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = rotr(v[b] ^ v[c], 12);                                                              \
        v[a] = v[a] + v[b] + (y);                                                                  \
        v[d] = rotr(v[d] ^ v[a], 8);                                                               \
        v[c] = v[c] + v[d];                                                                        \
        v[b] = rotr(v[b] ^ v[c], 7);                                                               \
    } while (0)

static void compress(struct blake2s *s, int last) {
    uint32_t m[16], v[16];
    for (int i = 0; i < 16; i++) m[i] = load_le32(s->block + 4 * i);
    for (int i = 0; i < 8; i++) {
        v[i] = s->h[i];
        v[i + 8] = iv[i];
    }
    v[12] ^= (uint32_t)s->counter;
    v[13] ^= (uint32_t)(s->counter >> 32);
    if (last) v[14] = ~v[14];
    for (int r = 0; r < 10; r++) {
        const uint8_t *z = sigma[r];
        G(0, 4, 8, 12, m[z[0]], m[z[1]]);
        G(1, 5, 9, 13, m[z[2]], m[z[3]]);
        G(2, 6, 10, 14, m[z[4]], m[z[5]]);
        G(3, 7, 11, 15, m[z[6]], m[z[7]]);
        G(0, 5, 10, 15, m[z[8]], m[z[9]]);
        G(1, 6, 11, 12, m[z[10]], m[z[11]]);
        G(2, 7, 8, 13, m[z[12]], m[z[13]]);
        G(3, 4, 9, 14, m[z[14]], m[z[15]]);
    }
    for (int i = 0; i < 8; i++) s->h[i] ^= v[i] ^ v[i + 8];
}

static void init(struct blake2s *s) {
    memset(s, 0, sizeof *s);
    memcpy(s->h, iv, sizeof iv);
    s->h[0] ^= 0x01010000u | 32u; /* depth 1, fanout 1, no key, 32-byte digest */
}

/* Feeds bytes; a full block is compressed only once more input arrives, since the final block
 * must be compressed with the last-block flag. */
static void update(struct blake2s *s, const uint8_t *in, uint32_t len) {
    while (len > 0) {
        if (s->filled == 64) {
            s->counter += 64;
            compress(s, 0);
            s->filled = 0;
        }
        uint32_t take = 64 - s->filled;
        if (take > len) take = len;
        memcpy(s->block + s->filled, in, take);
        s->filled += take;
        in += take;
        len -= take;
    }
}

static uint64_t finish(struct blake2s *s) {
    s->counter += s->filled;
    memset(s->block + s->filled, 0, 64 - s->filled);
    compress(s, 1);
    return (uint64_t)s->h[0] | (uint64_t)s->h[1] << 32;
}

BENCH_RUN {
    uint32_t x = 0x9e3779b9u;
    for (uint32_t i = 0; i < MESSAGE_LEN; i++) {
        x = x * 1664525u + 1013904223u;
        message[i] = (uint8_t)(x >> 24);
    }
    struct blake2s state;
    init(&state);
    /* Uneven chunk sizes exercise partial-block buffering. */
    uint32_t offset = 0, chunk = 1;
    while (offset < MESSAGE_LEN) {
        uint32_t n = MESSAGE_LEN - offset < chunk ? MESSAGE_LEN - offset : chunk;
        update(&state, message + offset, n);
        offset += n;
        chunk = chunk * 3 % 127 + 1;
    }
    return (int64_t)finish(&state);
}
