/*
 * mandelbrot: escape-time iteration z <- z^2 + c in double over a 24x16 grid of points c in
 * [-2.1, 0.9) x [-1.2, 1.2) (steps 0.125 and 0.15, the latter inexact in binary), at most 32
 * iterations per point, escaping once |z|^2 > 4. Checksum: every point's iteration count and
 * the bits of its last z, folded in grid order, plus the total count in the top bits.
 */
#include "bench.h"

#define WIDTH 24
#define HEIGHT 16
#define MAX_ITER 32

BENCH_RUN {
    uint64_t hash = 0;
    uint32_t total = 0;
    for (int32_t row = 0; row < HEIGHT; row++) {
        double ci = -1.2 + (double)row * 0.15;
        for (int32_t col = 0; col < WIDTH; col++) {
            double cr = -2.1 + (double)col * 0.125;
            double zr = 0.0, zi = 0.0, zr2 = 0.0, zi2 = 0.0;
            uint32_t n = 0;
            while (n < MAX_ITER && zr2 + zi2 <= 4.0) {
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
                zr2 = zr * zr;
                zi2 = zi * zi;
                n++;
            }
            hash = fold(hash, n);
            hash = fold(hash, bits64(zr));
            hash = fold(hash, bits64(zi));
            total += n;
        }
    }
    return (int64_t)(hash ^ (uint64_t)total << 48);
}
