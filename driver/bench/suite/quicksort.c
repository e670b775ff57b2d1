/*
 * quicksort: sorts 2000 pseudo-random records twice with a generic quicksort that compares
 * through a function pointer (call_indirect in wasm): by key ascending, then by a derived key
 * descending. Checksum: position-weighted sum of both orders.
 */
#include "bench.h"

#define N 2000

struct record {
    uint32_t key;
    uint32_t id;
};

typedef int (*compare_fn)(const struct record *, const struct record *);

static struct record records[N];

static int by_key(const struct record *a, const struct record *b) {
    return a->key < b->key ? -1 : a->key > b->key;
}

/* Descending by the key's low 12 bits, ties broken by id: a different order from by_key. */
static int by_low_bits_desc(const struct record *a, const struct record *b) {
    uint32_t x = a->key & 0xfff, y = b->key & 0xfff;
    if (x != y) return x > y ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void swap(struct record *a, struct record *b) {
    struct record t = *a;
    *a = *b;
    *b = t;
}

/* Hoare-style quicksort with insertion sort below 12 elements; noinline keeps the comparator an
 * indirect call instead of letting the optimizer specialise the sort per comparator. */
__attribute__((noinline)) static void sort(struct record *a, int32_t n, compare_fn cmp) {
    while (n > 12) {
        struct record pivot = a[n / 2];
        int32_t i = 0, j = n - 1;
        for (;;) {
            while (cmp(&a[i], &pivot) < 0) i++;
            while (cmp(&a[j], &pivot) > 0) j--;
            if (i >= j) break;
            swap(&a[i], &a[j]);
            i++;
            j--;
        }
        /* Recurse into the smaller half, loop on the larger: bounded stack depth. */
        int32_t left = j + 1;
        if (left < n - left) {
            sort(a, left, cmp);
            a += left;
            n -= left;
        } else {
            sort(a + left, n - left, cmp);
            n = left;
        }
    }
    for (int32_t i = 1; i < n; i++) {
        struct record r = a[i];
        int32_t j = i - 1;
        while (j >= 0 && cmp(&a[j], &r) > 0) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = r;
    }
}

static uint64_t weigh(compare_fn cmp) {
    uint64_t sum = 0;
    for (int32_t i = 0; i < N; i++) {
        if (i > 0 && cmp(&records[i - 1], &records[i]) > 0) return 0; /* not sorted */
        sum += (uint64_t)records[i].id * (uint64_t)(i + 1) + records[i].key;
    }
    return sum;
}

static const compare_fn orders[2] = {by_key, by_low_bits_desc};

BENCH_RUN {
    uint32_t x = 2463534242u; /* xorshift32 */
    for (int32_t i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        records[i].key = x;
        records[i].id = (uint32_t)i;
    }
    uint64_t checksum = 0;
    for (int32_t k = 0; k < 2; k++) {
        sort(records, N, orders[k]);
        checksum = checksum * 1000003u + weigh(orders[k]);
    }
    return (int64_t)checksum;
}
