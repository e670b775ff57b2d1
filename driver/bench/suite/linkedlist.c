/*
 * linkedlist: a sorted singly linked list of structs drawn from a fixed pool. Inserts 800
 * pseudo-random keys in order, unlinks every node whose key is divisible by 3 (back to a free
 * list), inserts 200 more keys reusing freed nodes, reverses the list, and folds it.
 * Checksum: a fold of (key, value, position) over the final list, plus its length.
 */
#include "bench.h"

#define POOL 1024

struct node {
    uint32_t key;
    uint16_t value;
    uint8_t tag;
    struct node *next;
};

static struct node pool[POOL];
static struct node *free_list;
static uint32_t pool_used;

static struct node *alloc_node(void) {
    if (free_list) {
        struct node *n = free_list;
        free_list = n->next;
        return n;
    }
    return pool_used < POOL ? &pool[pool_used++] : 0;
}

static struct node *insert_sorted(struct node *head, uint32_t key, uint16_t value) {
    struct node *n = alloc_node();
    if (!n) return head;
    n->key = key;
    n->value = value;
    n->tag = (uint8_t)(key ^ value);
    struct node **link = &head;
    while (*link && (*link)->key < key) link = &(*link)->next;
    n->next = *link;
    *link = n;
    return head;
}

static struct node *remove_multiples_of_3(struct node *head) {
    struct node **link = &head;
    while (*link) {
        struct node *n = *link;
        if (n->key % 3 == 0) {
            *link = n->next;
            n->next = free_list;
            free_list = n;
        } else {
            link = &n->next;
        }
    }
    return head;
}

static struct node *reverse(struct node *head) {
    struct node *prev = 0;
    while (head) {
        struct node *next = head->next;
        head->next = prev;
        prev = head;
        head = next;
    }
    return prev;
}

BENCH_RUN {
    free_list = 0;
    pool_used = 0;
    struct node *head = 0;
    uint32_t x = 88172645u;
    for (uint32_t i = 0; i < 1000; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (i == 800) head = remove_multiples_of_3(head);
        head = insert_sorted(head, x % 100000u, (uint16_t)i);
    }
    head = reverse(head);
    uint64_t checksum = 0;
    uint32_t position = 0;
    for (struct node *n = head; n; n = n->next, position++)
        checksum = checksum * 1099511628211u + ((uint64_t)n->key << 24) + ((uint64_t)n->value << 8) +
                   n->tag + position;
    return (int64_t)(checksum ^ position);
}
