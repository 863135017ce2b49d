import Foundation

/// Keeps the runtime's freed activation buffers in the C heap instead of returning them to the
/// kernel. Every op of a forward pass allocates its output (12.6 MB for MiniLM's feed-forward at
/// batch 32 × 64 tokens); glibc serves blocks above its mmap threshold (128 KB at first) with
/// fresh `mmap`s and returns freed heap tops above its trim threshold, so each pass page-faulted
/// its buffers in again: 271,561 minor faults in one `bench runtime` engine run, and GELU, a
/// streaming op, took 45 ms of a 460 ms batch. With mmap threshold 32 MB (glibc's ceiling on
/// 64-bit) and trim threshold 1 GB, freed buffers are reused: 19,900 faults, GELU 14 ms
/// (docs/benchmarks.md). Process-wide and one-way, so it is done once, when a runtime model is
/// loaded; the resident size then stays at the largest pass's working set rather than shrinking
/// between passes. Glibc only (looked up at run time: Swift's Glibc module lacks <malloc.h>);
/// elsewhere it does nothing.
enum RuntimeHeap {
    private typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
    /// <malloc.h>'s parameter numbers.
    private static let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3

    /// Whether glibc took both settings (false elsewhere).
    static let retainsFreedBuffers: Bool = {
        #if os(Linux)
        // RTLD_DEFAULT is the null handle in glibc.
        guard let symbol = dlsym(nil, "mallopt") else { return false }
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let mmap = mallopt(mmapThreshold, 32 << 20), trim = mallopt(trimThreshold, 1 << 30)
        return mmap == 1 && trim == 1
        #else
        return false
        #endif
    }()
}
