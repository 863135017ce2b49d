import CBLAS
import Foundation
import NanoTensor

/// y = x · Wᵀ + bias for a packed W, dequantizing on the fly: the output features are cut into
/// panels small enough to stay in L2 (≤ 192 KB of fp32), each panel is expanded from its packed
/// codes by `DequantKernels` into a per-thread scratch and multiplied by one single-threaded
/// sgemm. Weight traffic from memory is the packed bytes (1 or ½ byte per weight); the fp32
/// panel is reused by every input row. Panels are spread over `Parallel.workers` threads.
public enum PackedLinear {
    /// Panel height for `columns` input features: 16…128 rows, a multiple of 16.
    static func panelRows(columns: Int) -> Int {
        max(16, min(128, (48 * 1024 / max(columns, 1)) / 16 * 16))
    }

    /// x: [m, columns], out: [m, rows] (overwritten), bias: [rows] or nil.
    /// `kernels`: the dequantizing kernels' set (`DequantKernels`); OpenBLAS picks its own sgemm.
    public static func forward(_ x: UnsafePointer<Float>, m: Int, weight w: PackedWeight,
                               bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, kernels: KernelSet = .current) {
        BLASThreads.ensureSingleThreaded()
        let (n, k) = (w.rows, w.columns)
        guard m > 0, n > 0 else { return }
        let panel = panelRows(columns: k)
        let panels = (n + panel - 1) / panel
        let workers = max(1, min(Parallel.workers, panels))
        let work = { (worker: Int) in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: panel * k)
            defer { scratch.deallocate() }
            var p = worker
            while p < panels {
                let row = p * panel, count = min(panel, n - row)
                DequantKernels.dequantize(w, rows: row, count: count, into: scratch, kernels: kernels)
                if let bias {
                    for i in 0..<m { (out + i * n + row).update(from: bias + row, count: count) }
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(count), Int32(k), 1,
                            x, Int32(k), scratch, Int32(k), bias == nil ? 0 : 1, out + row, Int32(n))
                p += workers
            }
        }
        if workers == 1 { work(0) } else { Parallel.perform(iterations: workers, work) }
    }
}
