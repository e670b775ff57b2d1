/*
 * nqueens: counts the placements of 10 non-attacking queens with bitmask backtracking and hashes
 * every solution's column sequence. Checksum: (solution count << 32) ^ hash of all solutions.
 */
#include "bench.h"

#define QUEENS 10

static uint8_t column_of_row[QUEENS];
static uint32_t solutions;
static uint64_t solution_hash;

static void place(uint32_t row, uint32_t cols, uint32_t diag1, uint32_t diag2) {
    if (row == QUEENS) {
        uint64_t h = 1469598103934665603u; /* FNV-1a over the column sequence */
        for (uint32_t r = 0; r < QUEENS; r++) h = (h ^ column_of_row[r]) * 1099511628211u;
        solutions++;
        solution_hash = solution_hash * 3 + h;
        return;
    }
    uint32_t free = ~(cols | diag1 | diag2) & ((1u << QUEENS) - 1);
    while (free) {
        uint32_t bit = free & -free;
        free ^= bit;
        column_of_row[row] = (uint8_t)__builtin_ctz(bit);
        place(row + 1, cols | bit, (diag1 | bit) << 1, (diag2 | bit) >> 1);
    }
}

BENCH_RUN {
    solutions = 0;
    solution_hash = 0;
    place(0, 0, 0, 0);
    return (int64_t)(((uint64_t)solutions << 32) ^ solution_hash);
}
