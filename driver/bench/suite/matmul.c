/*
 * matmul: integer matrix multiply. C = A x B and D = C x A for 40x40 matrices of small signed
 * entries (int32 arithmetic wraps as unsigned). Checksum: a position-weighted fold of D.
 */
#include "bench.h"

#define DIM 40

static int32_t a[DIM][DIM], b[DIM][DIM], c[DIM][DIM], d[DIM][DIM];

static void multiply(int32_t out[DIM][DIM], int32_t x[DIM][DIM], int32_t y[DIM][DIM]) {
    for (int32_t i = 0; i < DIM; i++)
        for (int32_t j = 0; j < DIM; j++) {
            uint32_t sum = 0;
            for (int32_t k = 0; k < DIM; k++) sum += (uint32_t)x[i][k] * (uint32_t)y[k][j];
            out[i][j] = (int32_t)sum;
        }
}

BENCH_RUN {
    uint32_t seed = 12345;
    for (int32_t i = 0; i < DIM; i++)
        for (int32_t j = 0; j < DIM; j++) {
            seed = seed * 1103515245u + 12345u;
            a[i][j] = (int32_t)((seed >> 16) % 201) - 100;
            seed = seed * 1103515245u + 12345u;
            b[i][j] = (int32_t)((seed >> 16) % 201) - 100;
        }
    multiply(c, a, b);
    multiply(d, c, a);
    uint64_t checksum = 0;
    for (int32_t i = 0; i < DIM; i++)
        for (int32_t j = 0; j < DIM; j++)
            checksum = checksum * 31 + (uint64_t)(int64_t)d[i][j]; /* sign-extends negatives */
    return (int64_t)checksum;
}
