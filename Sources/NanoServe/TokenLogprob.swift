import Foundation

/// A token with its log-probability and, when asked, the most probable alternatives at its
/// position: log-softmax of the temperature-1 logits the sampler sees, so `top` and `logprob`
/// are the model's own distribution whatever the sampling temperature.
public struct TokenLogprob: Equatable, Sendable {
    public let token: Int
    public let logprob: Float
    /// The `k` most probable tokens at this position, most probable first (lowest id on ties).
    public let top: [(token: Int, logprob: Float)]

    public static func == (a: TokenLogprob, b: TokenLogprob) -> Bool {
        a.token == b.token && a.logprob == b.logprob && a.top.map(\.token) == b.top.map(\.token) && a.top.map(\.logprob) == b.top.map(\.logprob)
    }

    /// `token`'s entry in the distribution of one row of logits, with the `k` best alternatives.
    public init(token: Int, logits: ArraySlice<Float>, top k: Int) {
        let lse = Self.logSumExp(logits)
        let base = logits.startIndex
        self.token = token
        logprob = Float(Double(logits[base + token]) - lse)
        top = Self.best(logits, k).map { ($0, Float(Double(logits[base + $0]) - lse)) }
    }

    /// log Σ exp(x), in Double (a 49k-entry sum in Float loses the tail's mass).
    static func logSumExp(_ x: ArraySlice<Float>) -> Double {
        let m = Double(x.max() ?? 0)
        var sum = 0.0
        for v in x { sum += Foundation.exp(Double(v) - m) }
        return m + Foundation.log(sum)
    }

    /// The ids (from 0) of the `k` largest values, largest first, the lower id first on ties.
    static func best(_ x: ArraySlice<Float>, _ k: Int) -> [Int] {
        guard k > 0 else { return [] }
        var kept: [Int] = []   // sorted, best first
        for i in 0..<x.count {
            let v = x[x.startIndex + i]
            if kept.count == k, let last = kept.last, !(v > x[x.startIndex + last]) { continue }
            var j = kept.count
            while j > 0 && v > x[x.startIndex + kept[j - 1]] { j -= 1 }
            kept.insert(i, at: j)
            if kept.count > k { kept.removeLast() }
        }
        return kept
    }
}
