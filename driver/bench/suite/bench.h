/*
 * bench.h: the little that every C benchmark in this suite shares.
 *
 * Each program includes this header and defines its workload as `BENCH_RUN { ... return checksum; }`,
 * which becomes:
 *   - for wasm32 (`build.sh`): an export `run: () -> i64`;
 *   - with -DNATIVE (`native.sh`): a host program whose `main` prints `run()` as a signed decimal.
 *
 * The programs only use fixed-width unsigned arithmetic (no signed overflow, no pointer values in
 * checksums, no `long`), so the native build on x86-64 and the wasm32 build compute the same
 * number: that agreement is what `native.sh` checks. The float programs (mandelbrot, nbody, dot,
 * spectral) also agree bit for bit: `float`/`double` are IEEE binary32/binary64 with
 * round-to-nearest-even on both targets (x86-64 uses SSE2, not the x87), every operation is
 * rounded on its own (-ffp-contract=off: no fused multiply-add), and their checksums fold the
 * results' bits (`bits64`, `bits32`), so a difference in the last bit of any result shows.
 *
 * memcpy/memset: a freestanding wasm32 build has no libc. Programs built with -mbulk-memory
 * (listed in build.sh) get `memory.copy`/`memory.fill` from clang for every memcpy/memset; the
 * others call the byte loops below (clang also calls them for struct copies). They are noinline,
 * as if linked from a separately compiled libc, so the calls stay calls. The native build uses
 * the host libc's versions, so it also cross-checks these loops.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef NATIVE
#include <stdio.h>
#include <string.h>
#define EXPORT(name)
#else
/* export_name rather than -Wl,--export: the export list lives next to the code it exports. */
#define EXPORT(name) __attribute__((export_name(name)))
#if !defined(__wasm_bulk_memory__)
__attribute__((noinline)) void *memcpy(void *dst, const void *src, size_t n) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--) *d++ = *s++;
    return dst;
}
__attribute__((noinline)) void *memset(void *dst, int c, size_t n) {
    unsigned char *d = dst;
    while (n--) *d++ = (unsigned char)c;
    return dst;
}
#else
#define memcpy __builtin_memcpy
#define memset __builtin_memset
#endif
#endif

/* The IEEE 754 bits of a double / float (a union: C11 defines reading the other member). */
static inline uint64_t bits64(double x) {
    union {
        double d;
        uint64_t u;
    } v = {x};
    return v.u;
}
static inline uint32_t bits32(float x) {
    union {
        float f;
        uint32_t u;
    } v = {x};
    return v.u;
}

/* Folds `value` into the checksum `hash`: an FNV-style multiply with a shift, so every bit of
 * every value folded affects the result and the order of values matters. */
static inline uint64_t fold(uint64_t hash, uint64_t value) {
    hash = (hash ^ value) * 0x100000001b3u;
    return hash ^ (hash >> 29);
}

/* Declares the benchmark entry point; the body follows the macro. */
#define BENCH_RUN EXPORT("run") int64_t run(void)
int64_t run(void);

#ifdef NATIVE
int main(void) {
    printf("%lld\n", (long long)run());
    return 0;
}
#endif

#endif
