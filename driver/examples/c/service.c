/*
 * service: a minimal JAM-style service in C for cranelift-pvm.
 *
 * Exports two entry points, each (ptr: i32, len: i32) -> i64. Each reads the `len` input bytes
 * at address `ptr` of linear memory, writes its output into a static buffer and returns
 * out_ptr | out_len << 32:
 *   refine:     the input reversed, then the sum of the input bytes as 4 little-endian bytes;
 *   accumulate: "acc:" then the input with ASCII a-z uppercased.
 * Inputs longer than MAX_INPUT bytes are cut to MAX_INPUT, so the output always fits the buffer.
 *
 * Memory contract (set by build.sh): 8 pages (512 KiB), fixed. The stack (64 KiB) comes first,
 * then the module's data and the 64 KiB output buffer, all below 0x40000; the module never
 * touches [0x40000, 0x80000), so a host can place the input anywhere there.
 * The module imports nothing. Built with -mbulk-memory: memcpy is memory.copy.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef NATIVE
#include <stdio.h>
#include <string.h>
#define EXPORT(name)
#else
#define EXPORT(name) __attribute__((export_name(name)))
#define memcpy __builtin_memcpy
#endif

#define OUTPUT_CAP 65536
#define MAX_INPUT (OUTPUT_CAP - 4)

static uint8_t output[OUTPUT_CAP];

static uint32_t clamp(uint32_t len) { return len < MAX_INPUT ? len : MAX_INPUT; }

static uint32_t refine_bytes(const uint8_t *in, uint32_t len, uint8_t *out) {
    len = clamp(len);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < len; i++) {
        out[len - 1 - i] = in[i];
        sum += in[i];
    }
    for (uint32_t i = 0; i < 4; i++) out[len + i] = (uint8_t)(sum >> (8 * i));
    return len + 4;
}

static uint32_t accumulate_bytes(const uint8_t *in, uint32_t len, uint8_t *out) {
    len = clamp(len);
    memcpy(out, "acc:", 4);
    for (uint32_t i = 0; i < len; i++) {
        uint8_t c = in[i];
        out[4 + i] = c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
    }
    return len + 4;
}

#ifndef NATIVE
static uint64_t pack(uint32_t out_len) {
    return (uint64_t)(uintptr_t)output | (uint64_t)out_len << 32;
}

EXPORT("refine") uint64_t refine(uint32_t ptr, uint32_t len) {
    return pack(refine_bytes((const uint8_t *)(uintptr_t)ptr, len, output));
}

EXPORT("accumulate") uint64_t accumulate(uint32_t ptr, uint32_t len) {
    return pack(accumulate_bytes((const uint8_t *)(uintptr_t)ptr, len, output));
}
#else
/* Prints the outputs listed in service.expected, computed on the host. */
static void print_hex(const char *entry, const char *input_name, const uint8_t *in, uint32_t len) {
    uint32_t n = entry[0] == 'r' ? refine_bytes(in, len, output) : accumulate_bytes(in, len, output);
    printf("%s %s ", entry, input_name);
    for (uint32_t i = 0; i < n; i++) printf("%02x", output[i]);
    printf("\n");
}

int main(void) {
    static uint8_t ramp[1000];
    for (uint32_t i = 0; i < 1000; i++) ramp[i] = (uint8_t)(i % 251);
    print_hex("refine", "hello", (const uint8_t *)"hello", 5);
    print_hex("refine", "ramp1000", ramp, 1000);
    print_hex("accumulate", "hello", (const uint8_t *)"hello", 5);
    print_hex("accumulate", "ramp1000", ramp, 1000);
    return 0;
}
#endif
