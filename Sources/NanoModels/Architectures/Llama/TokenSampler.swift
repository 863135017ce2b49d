import Foundation
import NanoTensor

/// Picks the next token from a row of logits: greedy (the highest logit, the lowest id on ties,
/// as `torch.argmax`) when the temperature is 0, otherwise a draw from softmax(logits / T)
/// restricted to the nucleus of `topP` (Holtzman et al. 2020: the most probable tokens whose
/// cumulative probability first reaches `topP`), from a seeded generator.
public struct TokenSampler: Sendable {
    public let temperature: Float
    public let topP: Float
    private var rng: RandomGenerator

    /// `temperature` ≥ 0, `topP` in (0, 1].
    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        precondition(temperature >= 0 && temperature.isFinite, "TokenSampler: temperature \(temperature) must be finite and ≥ 0")
        precondition(topP > 0 && topP <= 1, "TokenSampler: top-p \(topP) must lie in (0, 1]")
        self.temperature = temperature; self.topP = topP; rng = RandomGenerator(seed: seed)
    }

    public var isGreedy: Bool { temperature == 0 }

    /// The next token id for `logits` (one row of vocabulary size).
    public mutating func next(_ logits: ArraySlice<Float>) -> Int {
        precondition(!logits.isEmpty, "TokenSampler: empty logits")
        if isGreedy { return Self.argmax(logits) }
        let top = logits.max()!
        // Probabilities in Double: a 49k-entry softmax in Float loses the tail's mass.
        var order = Array(0..<logits.count)
        var weights = logits.map { Foundation.exp(Double($0 - top) / Double(temperature)) }
        let total = weights.reduce(0, +)
        for i in weights.indices { weights[i] /= total }
        order.sort { weights[$0] != weights[$1] ? weights[$0] > weights[$1] : $0 < $1 }
        var kept = 0, mass = 0.0
        while kept < order.count {
            mass += weights[order[kept]]
            kept += 1
            if mass >= Double(topP) { break }
        }
        var u = Double(rng.nextUniform()) * mass
        for i in order[0..<kept] {
            u -= weights[i]
            if u < 0 { return i }
        }
        return order[kept - 1]
    }

    /// The index (from 0) of the largest value, the first one on ties.
    public static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for i in values.indices where values[i] > values[best] { best = i }
        return best - values.startIndex
    }
}
