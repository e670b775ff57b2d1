/*
 * prnghist: xorshift64* generator feeding three histograms (byte values, 16-bit buckets of
 * 64 counters, run lengths). Histograms are cleared with memset and snapshotted with memcpy,
 * which this program gets as memory.fill/memory.copy (built with -mbulk-memory).
 * Checksum: sums of squared counts (a chi-square numerator) and a fold of the snapshots.
 */
#include "bench.h"

#define SAMPLES 60000

static uint32_t bytes[256];
static uint16_t buckets[64];
static uint32_t runs[32];
static uint32_t snapshot[256 + 32];

static uint64_t sum_of_squares(const uint32_t *h, uint32_t n) {
    uint64_t s = 0;
    for (uint32_t i = 0; i < n; i++) s += (uint64_t)h[i] * h[i];
    return s;
}

BENCH_RUN {
    uint64_t state = 0x2545f4914f6cdd1dull;
    uint64_t checksum = 0;
    for (uint32_t round = 0; round < 3; round++) {
        memset(bytes, 0, sizeof bytes);
        memset(buckets, 0, sizeof buckets);
        memset(runs, 0, sizeof runs);
        uint32_t previous_bit = 2, run = 0;
        for (uint32_t i = 0; i < SAMPLES / 3; i++) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            uint64_t r = state * 0x2545f4914f6cdd1dull;
            bytes[r >> 56]++;
            buckets[(r >> 20) & 63]++;
            uint32_t bit = (uint32_t)(r >> 63);
            if (bit == previous_bit && run < 31) {
                run++;
            } else {
                runs[run]++;
                run = 0;
            }
            previous_bit = bit;
        }
        memcpy(snapshot, bytes, sizeof bytes);
        memcpy(snapshot + 256, runs, sizeof runs);
        uint64_t fold = 0;
        for (uint32_t i = 0; i < 256 + 32; i++) fold = fold * 33 + snapshot[i];
        uint64_t bucket_sq = 0;
        for (uint32_t i = 0; i < 64; i++) bucket_sq += (uint64_t)buckets[i] * buckets[i];
        checksum ^= (sum_of_squares(bytes, 256) << 20) + bucket_sq + fold + round;
    }
    return (int64_t)checksum;
}
