/*
 * collatz: walks the Collatz sequence (u64 arithmetic) of every start value below 1500.
 * Checksum: total steps, the longest chain and its start, and the highest value reached.
 */
#include "bench.h"

#define LIMIT 1500

BENCH_RUN {
    uint64_t total_steps = 0, peak = 0;
    uint32_t longest = 0, longest_start = 0;
    for (uint32_t start = 1; start < LIMIT; start++) {
        uint64_t n = start;
        uint32_t steps = 0;
        while (n != 1) {
            n = (n & 1) ? 3 * n + 1 : n >> 1;
            if (n > peak) peak = n;
            steps++;
        }
        total_steps += steps;
        if (steps > longest) {
            longest = steps;
            longest_start = start;
        }
    }
    return (int64_t)((total_steps << 32) ^ ((uint64_t)longest << 16) ^ longest_start ^ (peak << 20));
}
