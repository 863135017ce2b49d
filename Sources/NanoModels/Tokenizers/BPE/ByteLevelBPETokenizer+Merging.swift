extension ByteLevelBPETokenizer {
    /// Words up to this many bytes merge with a plain scan for the best pair; longer ones (a run of
    /// thousands of `=` or spaces) through a priority queue, so no input is quadratic.
    static let shortWordLimit = 48

    /// BPE on one word: start from its bytes' tokens and apply the lowest-ranked merge among adjacent
    /// pairs (the leftmost on ties) until none applies, as Hugging Face's `BPE::merge_word`.
    func mergeWord(_ word: [UInt8]) -> [Int32] {
        if !wholeWords.isEmpty, let id = wholeWords[word] { return [id] }
        // A byte without a token is dropped, as Hugging Face's BPE does without an unknown token.
        let symbols = word.compactMap { byteTokens[Int($0)] >= 0 ? byteTokens[Int($0)] : nil }
        guard symbols.count > 1 else { return symbols }
        return symbols.count <= Self.shortWordLimit ? mergeByScan(symbols) : mergeByQueue(symbols)
    }

    @inline(__always)
    func merge(_ a: Int32, _ b: Int32) -> Merge? { merges[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] }

    /// The plain loop: O(n²) in the word's length, fastest for ordinary words.
    func mergeByScan(_ start: [Int32]) -> [Int32] {
        var symbols = start
        let none = Merge(rank: .max, result: -1)
        // pairs[i] is the merge of symbols[i] and symbols[i + 1].
        var pairs = (0..<symbols.count - 1).map { merge(symbols[$0], symbols[$0 + 1]) ?? none }
        while true {
            var best = -1, bestRank = Int32.max
            for (i, p) in pairs.enumerated() where p.rank < bestRank { best = i; bestRank = p.rank }
            if best < 0 { break }
            symbols[best] = pairs[best].result
            symbols.remove(at: best + 1)
            pairs.remove(at: best)
            if best > 0 { pairs[best - 1] = merge(symbols[best - 1], symbols[best]) ?? none }
            if best < pairs.count { pairs[best] = merge(symbols[best], symbols[best + 1]) ?? none }
        }
        return symbols
    }

    /// The same merges in O(n log n): a min-heap of (rank, position) over a linked list of symbols;
    /// entries made stale by an earlier merge are skipped when popped.
    func mergeByQueue(_ start: [Int32]) -> [Int32] {
        var ids = start
        let n = ids.count
        var next = (0..<n).map { $0 + 1 }, prev = (0..<n).map { $0 - 1 }
        var alive = [Bool](repeating: true, count: n)
        var heap = BPEMergeQueue()
        for i in 0..<n - 1 {
            if let m = merge(ids[i], ids[i + 1]) { heap.push(UInt64(UInt32(m.rank)) << 32 | UInt64(i)) }
        }
        while let top = heap.pop() {
            let rank = Int32(truncatingIfNeeded: top >> 32), pos = Int(top & 0xFFFF_FFFF)
            guard alive[pos], next[pos] < n else { continue }
            let right = next[pos]
            guard let m = merge(ids[pos], ids[right]), m.rank == rank else { continue }
            ids[pos] = m.result
            alive[right] = false
            next[pos] = next[right]
            if next[right] < n { prev[next[right]] = pos }
            if prev[pos] >= 0, let l = merge(ids[prev[pos]], ids[pos]) { heap.push(UInt64(UInt32(l.rank)) << 32 | UInt64(prev[pos])) }
            if next[pos] < n, let r = merge(ids[pos], ids[next[pos]]) { heap.push(UInt64(UInt32(r.rank)) << 32 | UInt64(pos)) }
        }
        var out: [Int32] = []
        var i = 0
        while i < n { out.append(ids[i]); i = next[i] }
        return out
    }
}

/// A binary min-heap of packed (rank << 32 | position) keys.
struct BPEMergeQueue {
    private var items: [UInt64] = []

    mutating func push(_ x: UInt64) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if items[parent] <= items[i] { break }
            items.swapAt(parent, i)
            i = parent
        }
    }

    mutating func pop() -> UInt64? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && items[l] < items[m] { m = l }
                if r < items.count && items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return first
    }
}
