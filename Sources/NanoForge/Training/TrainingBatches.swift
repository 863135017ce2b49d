import NanoTensor

/// The order a training loop draws examples in: epoch after epoch, each a fresh permutation from
/// the seed. With token lengths given (sentence encoders), each shuffled chunk of
/// `chunkBatches` batches is sorted by length before it is cut into batches, so a batch pads
/// little, and the batches are then shuffled so lengths vary from step to step.
///
/// Epoch `e`'s order depends only on (seed, e), so the data position of step `s` is
/// (s / batchesPerEpoch, s % batchesPerEpoch): a checkpoint's step count is its whole RNG state.
public struct TrainingBatches: Sendable {
    public let count: Int
    public let batchSize: Int
    public let lengths: [Int]?
    public let seed: UInt64
    public var chunkBatches = 16

    public init(count: Int, batchSize: Int, lengths: [Int]? = nil, seed: UInt64) {
        precondition(count > 0 && batchSize > 0, "TrainingBatches: needs examples and a positive batch size")
        precondition(lengths == nil || lengths!.count == count, "TrainingBatches: \(lengths!.count) lengths for \(count) examples")
        self.count = count; self.batchSize = batchSize; self.lengths = lengths; self.seed = seed
    }

    /// Batches per epoch; the last batch of an epoch may be short.
    public var batchesPerEpoch: Int { (count + batchSize - 1) / batchSize }

    /// (epoch, batch within the epoch) of 0-based `step`.
    public func position(ofStep step: Int) -> (epoch: Int, batch: Int) { (step / batchesPerEpoch, step % batchesPerEpoch) }

    /// The example indices of every batch of `epoch`.
    public func epoch(_ epoch: Int) -> [[Int]] {
        var rng = RandomGenerator(seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(epoch) &+ 0x5EED)
        let order = rng.permutation(count)
        guard let lengths else {
            return stride(from: 0, to: count, by: batchSize).map { Array(order[$0..<Swift.min($0 + batchSize, count)]) }
        }
        var batches: [[Int]] = []
        let chunk = batchSize * Swift.max(1, chunkBatches)
        for start in stride(from: 0, to: count, by: chunk) {
            let sorted = order[start..<Swift.min(start + chunk, count)].sorted { (lengths[$0], $0) < (lengths[$1], $1) }
            for b in stride(from: 0, to: sorted.count, by: batchSize) {
                batches.append(Array(sorted[b..<Swift.min(b + batchSize, sorted.count)]))
            }
        }
        return rng.permutation(batches.count).map { batches[$0] }
    }
}
