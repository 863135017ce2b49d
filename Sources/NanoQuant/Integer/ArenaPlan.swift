/// Offsets of activation tensors in one static arena, planned by lifetimes (TFLite Micro's greedy
/// memory planner): tensors are placed largest first, each at the lowest offset where it overlaps
/// no placed tensor that is alive at the same time. An operation's inputs and output are alive
/// together, so a kernel never reads and writes the same bytes.
public struct ArenaPlan: Equatable, Sendable {
    /// Byte offset of each tensor.
    public var offsets: [Int]
    /// The arena's size: the end of the highest tensor.
    public var size: Int

    /// `sizes[t]` bytes live from operation `lifetimes[t].first` to `lifetimes[t].last` (inclusive).
    public init(sizes: [Int], lifetimes: [(first: Int, last: Int)]) {
        precondition(sizes.count == lifetimes.count, "ArenaPlan: one lifetime per tensor")
        var offsets = [Int](repeating: 0, count: sizes.count)
        var placed: [Int] = []
        // Largest first, then by first use: deterministic.
        let order = sizes.indices.sorted { (sizes[$0], -lifetimes[$0].first, -$0) > (sizes[$1], -lifetimes[$1].first, -$1) }
        for t in order {
            let live = placed.filter { lifetimes[$0].first <= lifetimes[t].last && lifetimes[t].first <= lifetimes[$0].last }
                .sorted { offsets[$0] < offsets[$1] }
            var offset = 0
            for other in live {
                if offset + sizes[t] <= offsets[other] { break }
                offset = Swift.max(offset, offsets[other] + sizes[other])
            }
            offsets[t] = offset
            placed.append(t)
        }
        self.offsets = offsets
        size = sizes.indices.map { offsets[$0] + sizes[$0] }.max() ?? 0
    }
}
