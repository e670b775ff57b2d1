#!/usr/bin/env bash
# Rebuilds every C program's .wasm (driver/bench/suite/*.c, driver/examples/c/*.c) with clang.
# The .wasm files are committed next to their sources, so nothing else (CI included) needs this
# script or clang; rerun it after editing a .c file. Same clang version => byte-identical output.
#
# Needs clang with the wasm32 target and wasm-ld (Debian: apt-get install -y clang lld).
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/../.." && pwd)"
examples="$root/driver/examples/c"
CLANG="${CLANG:-clang}"

for tool in "$CLANG" wasm-ld; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "build.sh: $tool not found; install it with: apt-get install -y clang lld" >&2
        exit 1
    fi
done
echo "using $("$CLANG" --version | head -n 1) ($(command -v "$CLANG")), $(wasm-ld --version | head -n 1)"

# Compile flags, the same for every program:
#  -mcpu=mvp: only the wasm 1.0 instruction set, so the output does not change with the
#    defaults of newer clang releases (which turn on sign-ext, multivalue, reference types and
#    bulk memory).
#    MVP has no SIMD or threads (check.mjs verifies it). Only the float programs (mandelbrot,
#    nbody, dot, spectral) use f32/f64; the others use integers only (check.mjs verifies both).
#  -ffreestanding -fno-builtin -nostdlib: no libc; clang must not turn loops into calls to
#    memcpy/memset that nothing defines (or that would call themselves).
#  -O2: representative optimised code, as a real toolchain would hand to the compiler.
#  -ffp-contract=off: every float operation is rounded on its own, as C's abstract machine
#    says. Clang's default (`on`) contracts a*b+c into llvm.fmuladd even for wasm, which has no
#    fused multiply-add, and then simplifies it as if unfused: 0 + x*y becomes x*y, which is
#    -0 where the C expression gives +0. native.sh builds with the same flag.
#  -fno-math-errno: __builtin_sqrt is the f64.sqrt instruction, never a call to a libm `sqrt`
#    for errno's sake (clang's wasm32 default already; stated so it cannot change).
cflags=(--target=wasm32 -mcpu=mvp -O2 -ffreestanding -fno-builtin -nostdlib -ffp-contract=off
    -fno-math-errno -Wall -Wextra)

# Link flags:
#  --no-entry: a library-style module; exports come from export_name attributes in the sources.
#  --stack-first: the C stack sits at the bottom of memory, so an overflow runs below address 0
#    and traps instead of silently overwriting static data.
#  -z stack-size: 64 KiB of stack, plenty for these programs.
#  --initial-memory = --max-memory: a fixed memory size, no growth; a compiler can size the heap
#    statically. 4 pages (256 KiB) fit every suite program. service.c gets 8 initial pages and no
#    maximum: JAM entry points receive their argument bytes in pages grown for them.
#  The name section is kept (no --strip-all): it costs a few hundred bytes and lets disassemblers
#    and the compiler's diagnostics show C function names. No -g, so there is no DWARF to strip.
#  --compress-relocations: wasm-ld otherwise pads relocated LEB128 immediates to 5 bytes; it
#    requires --strip-debug, which drops only DWARF (none here) and keeps the name section.
ldflags=(-Wl,--no-entry -Wl,--stack-first -Wl,-z,stack-size=65536 -Wl,--strip-debug
    -Wl,--compress-relocations)

# Programs compiled with -mbulk-memory: clang emits memory.copy/memory.fill for memcpy/memset.
# All others use the byte loops from bench.h or from their own source.
bulk_memory=(prnghist strsearch service)

build() { # build SOURCE PAGES [growable]
    local source="$1" pages="$2" wasm="${1%.c}.wasm" extra=()
    for b in "${bulk_memory[@]}"; do
        if [[ "$b" == "$(basename "$source" .c)" ]]; then extra=(-mbulk-memory); fi
    done
    local bytes=$((pages * 65536))
    local limits=("-Wl,--initial-memory=$bytes")
    if [[ "${3:-}" != growable ]]; then limits+=("-Wl,--max-memory=$bytes"); fi
    "$CLANG" "${cflags[@]}" "${extra[@]}" -I "$bench/suite" "${ldflags[@]}" \
        "${limits[@]}" -o "$wasm" "$source"
    chmod 644 "$wasm" # wasm-ld marks its output executable; it is data
    printf '  %-36s %6d bytes%s\n' "${wasm#"$root/"}" "$(wc -c <"$wasm")" \
        "${extra[*]:+ (${extra[*]})}"
}

for source in "$bench"/suite/*.c; do
    build "$source" 4
done
build "$examples/kvstore.c" 4
build "$examples/service.c" 8 growable
