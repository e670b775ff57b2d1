/*
 * dot: dot products and matrix-vector products in double and in float. 512-element vectors of
 * pseudo-random integers scaled by constants inexact in binary: x = 0.001 k and y = 0.37 k in
 * double, xf = x rounded to float and yf = 0.3f k in float; the dot products x.y in double,
 * xf.yf in float and xf.y mixed (xf promoted to double). Then 12 steps of the affine iteration
 * v <- A v + b with a 16x16 matrix (entries below 1/32 in magnitude, so v stays bounded), once
 * in double and once in float. Checksum: the bits of the three dot products and of both final
 * vectors, and each double component scaled by 10^6 and truncated to an integer.
 */
#include "bench.h"

#define N 512
#define M 16
#define STEPS 12

static double xd[N], yd[N];
static float xf[N], yf[N];
static double ad[M][M], bd[M], vd[M], wd[M];
static float af[M][M], bf[M], vf[M], wf[M];

static uint32_t seed = 0x2545f491u;

/* A pseudo-random integer in [-2^20, 2^20) (xorshift32). */
static int32_t next(void) {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return (int32_t)(seed >> 11) - (1 << 20);
}

BENCH_RUN {
    for (int32_t i = 0; i < N; i++) {
        xd[i] = (double)next() * 0.001;
        yd[i] = (double)next() * 0.37;
        xf[i] = (float)xd[i];
        yf[i] = (float)next() * 0.3f;
    }
    double sd = 0, sm = 0;
    float sf = 0;
    for (int32_t i = 0; i < N; i++) {
        sd += xd[i] * yd[i];
        sf += xf[i] * yf[i];
        sm += (double)xf[i] * yd[i];
    }
    /* Entries up to 2^20 * 2^-25 = 1/32 in magnitude: the iteration contracts. */
    for (int32_t i = 0; i < M; i++) {
        for (int32_t j = 0; j < M; j++) {
            ad[i][j] = (double)next() * 0x1p-25;
            af[i][j] = (float)ad[i][j];
        }
        bd[i] = (double)next() * 1e-6;
        bf[i] = (float)bd[i];
        vd[i] = 0;
        vf[i] = 0;
    }
    for (int32_t step = 0; step < STEPS; step++) {
        for (int32_t i = 0; i < M; i++) {
            double d = bd[i];
            float f = bf[i];
            for (int32_t j = 0; j < M; j++) {
                d += ad[i][j] * vd[j];
                f += af[i][j] * vf[j];
            }
            wd[i] = d;
            wf[i] = f;
        }
        for (int32_t i = 0; i < M; i++) {
            vd[i] = wd[i];
            vf[i] = wf[i];
        }
    }
    uint64_t hash = fold(fold(fold(0, bits64(sd)), bits32(sf)), bits64(sm));
    for (int32_t i = 0; i < M; i++) {
        hash = fold(hash, bits64(vd[i]));
        hash = fold(hash, bits32(vf[i]));
        hash = fold(hash, (uint32_t)(int32_t)(vd[i] * 1e6));
    }
    return (int64_t)hash;
}
