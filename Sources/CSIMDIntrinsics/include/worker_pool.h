// A persistent pool of spinning worker threads for short parallel regions (Parallel.perform).
// Why: at batch 1 each GEMM of the packed runtime takes ~50–150 µs, and waking a sleeping
// libdispatch worker costs as much as the work it would take over (2 threads measured no faster
// than 1 on MiniLM at batch 1). The pool's helpers spin on a generation counter for a while after
// each region, then sleep on a futex, so back-to-back regions start in well under a microsecond.
#ifndef NANOFORGE_WORKER_POOL_H
#define NANOFORGE_WORKER_POOL_H

/// One iteration of a parallel region: body(context, index).
typedef void (*nf_pool_body)(void *context, long index);

/// Runs body(context, i) for every i in [0, iterations) on the calling thread and up to
/// workers − 1 pool helpers, each claiming the next index; returns when all have finished.
/// Returns 0 when it ran the region, −1 (having run nothing) when the pool is busy with another
/// caller's region (a nested or concurrent call) or iterations exceeds 65,535: the caller then
/// runs the region another way.
int nf_pool_run(long iterations, long workers, nf_pool_body body, void *context);

/// Microseconds a helper spins after a region before it sleeps (default 1000; set before the
/// first region, e.g. from NANOFORGE_SPIN_US).
void nf_pool_set_spin_microseconds(long microseconds);

#endif
