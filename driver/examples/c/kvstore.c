/*
 * kvstore: an in-memory key-value store, the showcase C program for cranelift-pvm.
 *
 * A 512-slot open-addressing hash table of fixed-size records (linear probing, tombstones) lives
 * in linear memory. A pseudo-random stream of 3000 operations (put, get, delete, append) over
 * 300 distinct keys runs against it; each operation is dispatched through a table of function
 * pointers (call_indirect in wasm). Keys are formatted into a stack buffer whose address escapes,
 * so the code uses the wasm stack-pointer global; the store's counters are C globals.
 * Records are copied with memcpy and cleared with memset (this file brings its own, since a
 * freestanding wasm32 build has no libc and is built without bulk memory).
 *
 * Exports: run() -> i64: a checksum folding every operation's result and the final table;
 *          main() -> i32: the number of live keys after the same workload.
 * Build: driver/bench/build.sh (wasm32, clang); check natively: driver/bench/native.sh.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef NATIVE
#include <stdio.h>
#include <string.h>
#define EXPORT(name)
#else
#define EXPORT(name) __attribute__((export_name(name)))

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
#endif

#define SLOTS 512 /* power of two */
#define KEY_MAX 16
#define VALUE_MAX 40
#define OPERATIONS 3000
#define DISTINCT_KEYS 300

enum slot_state { EMPTY = 0, LIVE = 1, DELETED = 2 };

struct record {
    uint8_t state;
    uint8_t key_len;
    uint8_t value_len;
    uint32_t hash;
    uint8_t key[KEY_MAX];
    uint8_t value[VALUE_MAX];
};

static struct record table[SLOTS];
static uint32_t live_count;
static uint32_t probe_count;
static uint64_t rng_state;

static uint32_t hash_bytes(const uint8_t *p, uint32_t n) {
    uint32_t h = 2166136261u; /* FNV-1a */
    for (uint32_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
    return h;
}

static int same_key(const struct record *r, uint32_t hash, const uint8_t *key, uint32_t len) {
    if (r->hash != hash || r->key_len != len) return 0;
    for (uint32_t i = 0; i < len; i++)
        if (r->key[i] != key[i]) return 0;
    return 1;
}

/* The slot holding the key, or SLOTS when it is absent. */
static uint32_t find(const uint8_t *key, uint32_t len, uint32_t hash) {
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint32_t slot = (hash + i) & (SLOTS - 1);
        probe_count++;
        if (table[slot].state == EMPTY) return SLOTS;
        if (table[slot].state == LIVE && same_key(&table[slot], hash, key, len)) return slot;
    }
    return SLOTS;
}

/* The slot for a new key: the first empty or deleted one on its probe path. */
static uint32_t free_slot(uint32_t hash) {
    for (uint32_t i = 0; i < SLOTS; i++) {
        uint32_t slot = (hash + i) & (SLOTS - 1);
        probe_count++;
        if (table[slot].state != LIVE) return slot;
    }
    return SLOTS;
}

/* Every operation takes the key and a value and returns a small result to fold. */
typedef uint32_t (*operation)(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                              uint32_t value_len);

static uint32_t op_put(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                       uint32_t value_len) {
    uint32_t hash = hash_bytes(key, key_len);
    uint32_t slot = find(key, key_len, hash);
    if (slot == SLOTS) {
        slot = free_slot(hash);
        if (slot == SLOTS) return 0xffffffffu; /* full */
        struct record *r = &table[slot];
        memset(r, 0, sizeof *r);
        r->state = LIVE;
        r->hash = hash;
        r->key_len = (uint8_t)key_len;
        memcpy(r->key, key, key_len);
        live_count++;
    }
    table[slot].value_len = (uint8_t)value_len;
    memcpy(table[slot].value, value, value_len);
    return slot;
}

static uint32_t op_get(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                       uint32_t value_len) {
    (void)value;
    (void)value_len;
    uint32_t slot = find(key, key_len, hash_bytes(key, key_len));
    if (slot == SLOTS) return 0;
    const struct record *r = &table[slot];
    return hash_bytes(r->value, r->value_len) ^ r->value_len;
}

static uint32_t op_delete(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                          uint32_t value_len) {
    (void)value;
    (void)value_len;
    uint32_t slot = find(key, key_len, hash_bytes(key, key_len));
    if (slot == SLOTS) return 1;
    memset(&table[slot], 0, sizeof table[slot]);
    table[slot].state = DELETED; /* keeps probe chains through this slot intact */
    live_count--;
    return 2 + slot;
}

/* Appends to the stored value (truncating at VALUE_MAX); stores the value when absent. */
static uint32_t op_append(const uint8_t *key, uint32_t key_len, const uint8_t *value,
                          uint32_t value_len) {
    uint32_t slot = find(key, key_len, hash_bytes(key, key_len));
    if (slot == SLOTS) return op_put(key, key_len, value, value_len);
    struct record *r = &table[slot];
    uint32_t room = VALUE_MAX - r->value_len;
    uint32_t n = value_len < room ? value_len : room;
    memcpy(r->value + r->value_len, value, n);
    r->value_len = (uint8_t)(r->value_len + n);
    return r->value_len;
}

static const operation operations[4] = {op_put, op_get, op_delete, op_append};

static uint32_t next_random(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

/* Writes "key:" and the decimal digits of n; returns the length. */
static uint32_t format_key(uint8_t *out, uint32_t n) {
    uint8_t digits[10];
    uint32_t count = 0;
    do {
        digits[count++] = (uint8_t)('0' + n % 10);
        n /= 10;
    } while (n);
    memcpy(out, "key:", 4);
    for (uint32_t i = 0; i < count; i++) out[4 + i] = digits[count - 1 - i];
    return 4 + count;
}

static uint64_t workload(void) {
    memset(table, 0, sizeof table);
    live_count = 0;
    probe_count = 0;
    rng_state = 0x853c49e6748fea9bull;
    uint64_t checksum = 0;
    for (uint32_t i = 0; i < OPERATIONS; i++) {
        uint8_t key[KEY_MAX];
        uint8_t value[VALUE_MAX];
        uint32_t r = next_random();
        uint32_t key_len = format_key(key, r % DISTINCT_KEYS);
        uint32_t value_len = 1 + (r >> 10) % 12;
        memset(value, 'a' + (int)((r >> 20) % 26), value_len);
        value[0] = (uint8_t)i;
        /* puts 40%, gets 30%, deletes 15%, appends 15% */
        uint32_t pick = (r >> 24) % 20;
        uint32_t op = pick < 8 ? 0 : pick < 14 ? 1 : pick < 17 ? 2 : 3;
        uint32_t result = operations[op](key, key_len, value, value_len);
        checksum = (checksum ^ result) * 0x100000001b3ull + op;
    }
    for (uint32_t slot = 0; slot < SLOTS; slot++)
        if (table[slot].state == LIVE)
            checksum += (uint64_t)hash_bytes(table[slot].value, table[slot].value_len) * (slot + 1);
    return checksum ^ ((uint64_t)probe_count << 40);
}

EXPORT("run") int64_t run(void) { return (int64_t)workload(); }

/* Named kv_main: clang renames a C `main` for wasm32; the export name is what hosts see. */
EXPORT("main") int32_t kv_main(void) {
    workload();
    return (int32_t)live_count;
}

#ifdef NATIVE
int main(void) {
    printf("run %lld\n", (long long)run());
    printf("main %d\n", kv_main());
    return 0;
}
#endif
