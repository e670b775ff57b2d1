/*
 * spectral: the spectral norm of the infinite matrix A(i, j) = 1 / ((i + j)(i + j + 1) / 2 + i + 1)
 * truncated to 20x20, by 6 steps of the power method on A^T A (each entry of A recomputed with
 * an integer-to-double conversion and a division, as in the Computer Language Benchmarks Game
 * program), then sqrt(u.v / v.v). Checksum: the bits of the norm and of the final u and v.
 */
#include "bench.h"

#define N 20
#define STEPS 6

static double u[N], v[N], t[N];

static double a(int32_t i, int32_t j) {
    return 1.0 / (double)((i + j) * (i + j + 1) / 2 + i + 1);
}

/* out = A x */
static void times(double *out, const double *x) {
    for (int32_t i = 0; i < N; i++) {
        double sum = 0;
        for (int32_t j = 0; j < N; j++) sum += a(i, j) * x[j];
        out[i] = sum;
    }
}

/* out = A^T x */
static void times_transposed(double *out, const double *x) {
    for (int32_t i = 0; i < N; i++) {
        double sum = 0;
        for (int32_t j = 0; j < N; j++) sum += a(j, i) * x[j];
        out[i] = sum;
    }
}

/* out = A^T A x */
static void times_ata(double *out, const double *x) {
    times(t, x);
    times_transposed(out, t);
}

BENCH_RUN {
    for (int32_t i = 0; i < N; i++) u[i] = 1.0;
    for (int32_t step = 0; step < STEPS; step++) {
        times_ata(v, u);
        times_ata(u, v);
    }
    double uv = 0, vv = 0;
    for (int32_t i = 0; i < N; i++) {
        uv += u[i] * v[i];
        vv += v[i] * v[i];
    }
    uint64_t hash = fold(0, bits64(__builtin_sqrt(uv / vv)));
    for (int32_t i = 0; i < N; i++) hash = fold(fold(hash, bits64(u[i])), bits64(v[i]));
    return (int64_t)hash;
}
