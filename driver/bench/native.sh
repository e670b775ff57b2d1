#!/usr/bin/env bash
# Independent check of the C programs' expected results: compiles each C source in manifest.txt
# (and service.c) natively with gcc -DNATIVE, where bench.h / the example supplies a `main` that
# prints the results, under UndefinedBehaviorSanitizer and AddressSanitizer, and compares the
# printed values with manifest.txt, kvstore.expected and service.expected. The native build uses
# the host libc's memcpy/memset, so it also cross-checks the wasm builds' own byte loops.
#
# Needs gcc (or CC=...). Exit status 0 only when every value matches.
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/../.." && pwd)"
examples="$root/driver/examples/c"
CC="${CC:-gcc}"
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "native.sh: $CC not found; install it with: apt-get install -y gcc" >&2
    exit 1
fi
echo "using $("$CC" --version | head -n 1)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0

# native SOURCE: builds and runs SOURCE, printing its output.
# The float programs need IEEE 754 arithmetic with every operation rounded on its own, as the
# wasm builds have it: x86-64 does double and float in SSE2 (exact IEEE, no x87 excess
# precision), -ffp-contract=off forbids fused multiply-adds (build.sh passes it too),
# -fno-fast-math keeps every other IEEE rule, and -fno-math-errno makes __builtin_sqrt the
# sqrtsd instruction rather than a libm call. UBSan also checks what would trap in wasm:
# float-to-integer conversions out of range and float division by zero (not in its defaults).
native() {
    local exe="$work/$(basename "$1" .c)"
    "$CC" -std=c11 -O2 -DNATIVE -Wall -Wextra -Werror -ffp-contract=off -fno-fast-math \
        -fno-math-errno -fsanitize=undefined,float-cast-overflow,float-divide-by-zero,address \
        -fno-sanitize-recover=all -I "$bench/suite" -o "$exe" "$1"
    "$exe"
}

# compare WHAT GOT EXPECTED
compare() {
    if [[ "$2" == "$3" ]]; then
        echo "ok   $1 = $2"
    else
        echo "FAIL $1: native gives $2, expected $3"
        failures=$((failures + 1))
    fi
}

while read -r name file expected _; do
    [[ -z "$name" || "$name" == \#* || "$file" != *.wasm ]] && continue
    source="$root/${file%.wasm}.c"
    if [[ "$name" == kvstore ]]; then
        output="$(native "$source")"
        compare "kvstore run()" "$(sed -n 's/^run //p' <<<"$output")" "$expected"
        compare "kvstore main()" "$(sed -n 's/^main //p' <<<"$output")" \
            "$(sed -n 's/^main[[:space:]]\+//p' "$examples/kvstore.expected")"
    else
        compare "$name run()" "$(native "$source")" "$expected"
    fi
done <"$bench/manifest.txt"

# service.c prints `ENTRY INPUT HEX` lines in service.expected's order.
if diff <(native "$examples/service.c") <(grep -v '^#' "$examples/service.expected" | grep .) >/dev/null; then
    echo "ok   service refine/accumulate outputs = service.expected"
else
    echo "FAIL service: native outputs differ from service.expected"
    failures=$((failures + 1))
fi

if ((failures)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all native checks passed"
