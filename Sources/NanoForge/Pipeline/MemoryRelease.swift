import Foundation

/// Returns the C heap's free pages to the kernel (glibc's `malloc_trim(0)`). Tensors that the
/// stages and measurements allocated and freed leave free chunks that glibc keeps resident; the
/// pipeline hands them back before the per-layer error pass and before packing the output, the
/// two steps that allocate most on top of the model. It changes no data, only what stays resident.
enum MemoryRelease {
    private typealias Trim = @convention(c) (Int) -> Int32

    /// glibc's `malloc_trim`, looked up at run time (Swift's Glibc module does not import
    /// <malloc.h>); nil on other C libraries, where this does nothing.
    private static let trim: Trim? = {
        #if os(Linux)
        // RTLD_DEFAULT is the null handle in glibc.
        guard let symbol = dlsym(nil, "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: Trim.self)
        #else
        return nil
        #endif
    }()

    static func returnFreePages() {
        _ = trim?(0)
    }
}
