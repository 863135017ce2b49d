// Spinning worker pool (worker_pool.h). One region at a time: a submitter owns the pool through
// `busy`, writes the region's body and context, then publishes `work` = generation (32 bits) |
// next index (16) | iterations (16), and bumps the futex word `generation` that idle helpers
// watch. A thread claims an index by a compare-and-swap on `work` that checks the generation, so a
// helper that wakes late, or after the region, claims nothing and never reads a newer region's
// fields; a successful claim holds the region open, because the submitter returns only when
// `completed` reaches the iteration count. The submitter therefore never waits for a helper that
// has nothing to do (under load a helper may not be scheduled for milliseconds). Helpers spin for
// `spin_ns` after their last region, then sleep on the futex; the submitter wakes them when
// `sleepers` is non-zero (seq_cst on both sides: one of the two sees the other).
#define _GNU_SOURCE
#include "worker_pool.h"
#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NF_POOL_MAX_HELPERS 63
#define NF_POOL_MAX_ITERATIONS 0xFFFF

static struct {
    _Atomic uint32_t generation;
    _Atomic uint64_t work;
    _Atomic long completed;
    _Atomic int busy;
    _Atomic int sleepers;
    _Atomic int participants;   // helpers 0..<participants claim indices (the caller's worker count − 1)
    nf_pool_body body;
    void *context;
    int helpers;         // threads started (changed only by the owner of `busy`)
    long spin_ns;
} pool = {.spin_ns = 1000000};

void nf_pool_set_spin_microseconds(long microseconds) { pool.spin_ns = microseconds * 1000; }

static long now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/// Claims and runs indices of region `generation` until none is left.
static void run_iterations(uint32_t generation) {
    uint64_t w = atomic_load_explicit(&pool.work, memory_order_acquire);
    for (;;) {
        const uint32_t next = (uint32_t)(w >> 16) & 0xFFFF, iterations = (uint32_t)w & 0xFFFF;
        if ((uint32_t)(w >> 32) != generation || next >= iterations) return;
        if (!atomic_compare_exchange_weak_explicit(&pool.work, &w, w + (1u << 16), memory_order_acquire, memory_order_acquire)) continue;
        pool.body(pool.context, (long)next);
        atomic_fetch_add_explicit(&pool.completed, 1, memory_order_release);
        w = atomic_load_explicit(&pool.work, memory_order_acquire);
    }
}

static uint32_t wait_for_generation_after(uint32_t seen) {
    for (;;) {
        const long start = now_ns();
        for (unsigned spin = 1;; spin++) {
            uint32_t g = atomic_load_explicit(&pool.generation, memory_order_acquire);
            if (g != seen) return g;
            _mm_pause();
            if ((spin & 255) == 0 && now_ns() - start > pool.spin_ns) break;
        }
        atomic_fetch_add(&pool.sleepers, 1);
        if (atomic_load(&pool.generation) == seen)
            syscall(SYS_futex, (uint32_t *)&pool.generation, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
        atomic_fetch_sub(&pool.sleepers, 1);
    }
}

static void *helper_main(void *argument) {
    const int index = (int)((uintptr_t)argument >> 32);
    uint32_t seen = (uint32_t)(uintptr_t)argument;
    for (;;) {
        seen = wait_for_generation_after(seen);
        // A newer region's count read here is harmless: the claim checks the generation.
        if (index < atomic_load_explicit(&pool.participants, memory_order_relaxed)) run_iterations(seen);
    }
    return NULL;
}

int nf_pool_run(long iterations, long workers, nf_pool_body body, void *context) {
    if (iterations <= 0) return 0;
    if (workers <= 1 || iterations == 1) {
        for (long i = 0; i < iterations; i++) body(context, i);
        return 0;
    }
    if (iterations > NF_POOL_MAX_ITERATIONS) return -1;
    int free = 0;
    if (!atomic_compare_exchange_strong(&pool.busy, &free, 1)) return -1;
    long wanted = (workers < iterations ? workers : iterations) - 1;
    if (wanted > NF_POOL_MAX_HELPERS) wanted = NF_POOL_MAX_HELPERS;
    while (pool.helpers < wanted) {
        // A new helper starts having seen the current generation: the region posted below is its first.
        pthread_t thread;
        pthread_attr_t attributes;
        pthread_attr_init(&attributes);
        pthread_attr_setdetachstate(&attributes, PTHREAD_CREATE_DETACHED);
        const uintptr_t argument = ((uintptr_t)pool.helpers << 32) | atomic_load(&pool.generation);
        const int failed = pthread_create(&thread, &attributes, helper_main, (void *)argument);
        pthread_attr_destroy(&attributes);
        if (failed) break;
        pool.helpers++;
    }
    const uint32_t generation = atomic_load(&pool.generation) + 1;
    pool.body = body;
    pool.context = context;
    atomic_store_explicit(&pool.participants, (int)wanted, memory_order_relaxed);
    atomic_store_explicit(&pool.completed, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.work, ((uint64_t)generation << 32) | (uint64_t)iterations, memory_order_release);
    atomic_store(&pool.generation, generation);
    if (atomic_load(&pool.sleepers) > 0) syscall(SYS_futex, (uint32_t *)&pool.generation, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
    run_iterations(generation);
    // Indices claimed by helpers are still running: spin briefly, then yield the core (under
    // load the helper may be waiting for it).
    for (unsigned spin = 0; atomic_load_explicit(&pool.completed, memory_order_acquire) < iterations; spin++) {
        if (spin < 4096) _mm_pause(); else sched_yield();
    }
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
    return 0;
}
