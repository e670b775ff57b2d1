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
 * number: that agreement is what `native.sh` checks.
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
