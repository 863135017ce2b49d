import NanoModels
import NanoTensor

/// Depth pruning: which whole blocks to remove. Block influence (ShortGPT, Men et al. 2024,
/// "ShortGPT: Layers in Large Language Models are More Redundant Than You Expect"): a block whose
/// output hidden state points where its input did changes little, so
/// BI_i = 1 − mean over tokens of cos(x_i, x_{i+1}), x_i the residual stream entering block i.
/// The blocks with the lowest BI go first.
public enum BlockInfluence {
    /// BI of every block of `model` over the token sequences `sequences` (every token counts
    /// equally; zero-norm rows are skipped). Sums in Double.
    public static func scores(_ model: BlockDroppableModel, sequences: [[Int]]) -> [Double] {
        let count = model.prunableBlocks.count
        var sums = [Double](repeating: 0, count: count), rows = [Int](repeating: 0, count: count)
        for tokens in sequences where !tokens.isEmpty {
            let states = model.residualStream(tokens)
            precondition(states.count == count + 1, "BlockInfluence: \(states.count) hidden states for \(count) blocks")
            for i in 0..<count {
                let (a, b) = (states[i], states[i + 1])
                let width = a.shape[1]
                for t in 0..<a.shape[0] {
                    var dot = 0.0, na = 0.0, nb = 0.0
                    for j in (t * width)..<((t + 1) * width) {
                        let x = Double(a.scalars[j]), y = Double(b.scalars[j])
                        dot += x * y; na += x * x; nb += y * y
                    }
                    guard na > 0, nb > 0 else { continue }
                    sums[i] += dot / (na.squareRoot() * nb.squareRoot())
                    rows[i] += 1
                }
            }
        }
        return (0..<count).map { rows[$0] > 0 ? 1 - sums[$0] / Double(rows[$0]) : 0 }
    }

    /// The `count` candidates with the lowest scores (ties: the later block first, as blocks near
    /// the end tend to be the redundant ones), ascending.
    public static func lowest(_ scores: [Double], count: Int, among candidates: [Int]) -> [Int] {
        Array(candidates.sorted { (scores[$0], -$0) < (scores[$1], -$1) }.prefix(count)).sorted()
    }
}
