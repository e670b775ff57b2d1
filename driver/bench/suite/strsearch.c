/*
 * strsearch: counts occurrences of 16 patterns (3 to 14 letters, cut from the text itself) in a
 * 4 KiB text over a 4-letter alphabet, once by naive search and once by Boyer-Moore-Horspool.
 * memcpy/memset become memory.copy/memory.fill here (built with -mbulk-memory).
 * Checksum: total matches, a fold of the first match positions, and -1 if the searches disagree.
 */
#include "bench.h"

#define TEXT_LEN 4096
#define PATTERNS 16
#define MAX_PATTERN 16

static uint8_t text[TEXT_LEN];
static uint8_t pattern[MAX_PATTERN];
static uint32_t shift[256];

static uint32_t naive_count(const uint8_t *p, uint32_t m, uint32_t *first) {
    uint32_t count = 0;
    *first = TEXT_LEN;
    for (uint32_t i = 0; i + m <= TEXT_LEN; i++) {
        uint32_t j = 0;
        while (j < m && text[i + j] == p[j]) j++;
        if (j == m) {
            if (count == 0) *first = i;
            count++;
        }
    }
    return count;
}

static uint32_t horspool_count(const uint8_t *p, uint32_t m) {
    for (uint32_t c = 0; c < 256; c++) shift[c] = m;
    for (uint32_t j = 0; j + 1 < m; j++) shift[p[j]] = m - 1 - j;
    uint32_t count = 0;
    for (uint32_t i = 0; i + m <= TEXT_LEN; i += shift[text[i + m - 1]]) {
        uint32_t j = m;
        while (j > 0 && text[i + j - 1] == p[j - 1]) j--;
        if (j == 0) count++;
    }
    return count;
}

BENCH_RUN {
    static const uint8_t alphabet[4] = {'a', 'c', 'g', 't'};
    uint32_t x = 31337;
    for (uint32_t i = 0; i < TEXT_LEN; i++) {
        x = x * 1103515245u + 12345u;
        text[i] = alphabet[(x >> 16) & 3];
    }
    uint64_t checksum = 0;
    for (uint32_t k = 0; k < PATTERNS; k++) {
        uint32_t m = 3 + k % 12;
        x = x * 1103515245u + 12345u;
        memset(pattern, 0, sizeof pattern);
        memcpy(pattern, text + (x >> 8) % (TEXT_LEN - m), m);
        if (k % 5 == 4) pattern[m / 2] = 'x'; /* some patterns that never match */
        uint32_t first;
        uint32_t naive = naive_count(pattern, m, &first);
        if (naive != horspool_count(pattern, m)) return -1;
        checksum = checksum * 131 + ((uint64_t)naive << 16) + first;
    }
    return (int64_t)checksum;
}
