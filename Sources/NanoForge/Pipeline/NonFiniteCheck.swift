import Foundation
import NanoCheckpoint

/// NaN and ±Inf weights: readers load them (a checkpoint is data, not a reason to trap), `nanoforge
/// inspect` counts them, and the pipeline refuses such a model before any stage, since every
/// quantization scale, Hessian and pruning score computed from it would be NaN as well.
public enum NonFiniteCheck {
    /// The number of NaN or infinite values of each floating-point tensor that has any, in store
    /// order, as the model would load them (F64 beyond Float32's range counts as infinite).
    public static func counts(in store: TensorStore) -> [(name: String, count: Int)] {
        store.tensors.compactMap { tensor in
            guard [.f32, .f64, .f16, .bf16].contains(tensor.dtype) else { return nil }
            let count = tensor.dtype == .f32 ? float32Count(tensor.data)
                : tensor.floatTensor().scalars.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
            return count > 0 ? (tensor.name, count) : nil
        }
    }

    /// Non-finite F32 values counted from their bits (exponent all ones), without a Float copy.
    /// The scanned pages are then offered back to the kernel (`MADV_PAGEOUT`, a hint that never
    /// changes the data), so scanning a memory-mapped checkpoint does not keep it all resident.
    static func float32Count(_ data: Data) -> Int {
        data.withUnsafeBytes { raw -> Int in
            var n = 0
            for i in 0..<(raw.count / 4) where raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self) & 0x7f80_0000 == 0x7f80_0000 {
                n += 1
            }
            if let base = raw.baseAddress {
                let page = Int(sysconf(Int32(_SC_PAGESIZE)))
                let start = (Int(bitPattern: base) + page - 1) / page * page, end = (Int(bitPattern: base) + raw.count) / page * page
                let madvPageout: Int32 = 21   // Linux ≥ 5.4; older kernels answer EINVAL, which is fine for a hint
                if end > start, let pointer = UnsafeMutableRawPointer(bitPattern: start) { _ = madvise(pointer, end - start, madvPageout) }
            }
            return n
        }
    }

    /// Throws a ``PipelineError`` naming the weights file and the first tensor with non-finite
    /// values, unless the recipe sets `model.allow_non_finite`.
    static func check(_ recipe: Recipe) throws {
        guard !recipe.allowNonFinite else { return }
        let weights = try ModelLoader.locateWeights(recipe.modelPath).weights
        let found = counts(in: try CheckpointReader.read(path: weights))
        guard let first = found.first else { return }
        let others = found.count > 1 ? " (and \(found.count - 1) more tensor\(found.count > 2 ? "s" : ""))" : ""
        throw PipelineError.stageFailed(
            recipe: recipe.file, stage: "model.path",
            reason: "\(weights): tensor '\(first.name)' holds \(first.count) non-finite value\(first.count == 1 ? "" : "s") (NaN or ±Inf)\(others); "
                + "set model: {path: …, allow_non_finite: true} to compress it anyway")
    }
}

extension Pipeline {
    /// What must hold before the model is loaded: the output folder is allowed (``OutputPathCheck``,
    /// with ``outputRoot``) and the weights are finite (``NonFiniteCheck``).
    func checkBeforeLoading(outputDirectory: String?) throws {
        try recipe.checkOutputDirectory(outputDirectory, root: outputRoot)
        try NonFiniteCheck.check(recipe)
    }
}
