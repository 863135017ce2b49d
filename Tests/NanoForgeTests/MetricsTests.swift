import Foundation
import Testing
import NanoForge
import NanoTensor

@Suite struct MetricsTests {
    @Test func rowCosinesByHand() {
        let a = Tensor(shape: [3, 2], scalars: [1, 0, 1, 1, 0, 0])
        let b = Tensor(shape: [3, 2], scalars: [1, 0, 1, -1, 1, 0])
        // Row 0: identical → 1. Row 1: orthogonal → 0. Row 2: zero row → 0 by definition.
        #expect(Metrics.rowCosines(a, b) == [1, 0, 0])
        let (mean, min) = Metrics.cosineSummary(a, b)
        #expect(abs(mean - 1.0 / 3) < 1e-12)
        #expect(min == 0)
        // (3, 4)·(4, 3) / 25 = 24/25.
        let c = Metrics.rowCosines(Tensor(shape: [1, 2], scalars: [3, 4]), Tensor(shape: [1, 2], scalars: [4, 3]))
        #expect(abs(c[0] - 0.96) < 1e-12)
    }

    @Test func retrievalRanksByHand() {
        let targets = Tensor(shape: [3, 2], scalars: [1, 0, 0, 1, 1, 1])
        let queries = Tensor(shape: [3, 2], scalars: [1, 0, 1, 0.1, 0, 1])
        // q0 = (1, 0): its target (1, 0) is closest → 1.
        // q1 = (1, 0.1): cos with (0, 1) ≈ 0.0995, below (1, 0) ≈ 0.995 and (1, 1) ≈ 0.774 → 3.
        // q2 = (0, 1): cos with (1, 1) ≈ 0.707, below (0, 1) = 1 → 2.
        let ranks = Metrics.retrievalRanks(queries: queries, targets: targets)
        #expect(ranks == [1, 3, 2])
        let (top1, mrr) = Metrics.retrievalSummary(ranks: ranks)
        #expect(abs(top1 - 1.0 / 3) < 1e-12)
        #expect(abs(mrr - 11.0 / 18) < 1e-12)   // (1 + 1/3 + 1/2) / 3
    }

    @Test func retrievalTiesCountAgainstTheQuery() {
        let same = Tensor(shape: [3, 2], scalars: [1, 0, 1, 0, 1, 0])
        #expect(Metrics.retrievalRanks(queries: same, targets: same) == [3, 3, 3])
        let (top1, mrr) = Metrics.retrievalSummary(ranks: [3, 3, 3])
        #expect(top1 == 0)
        #expect(abs(mrr - 1.0 / 3) < 1e-12)
    }

    @Test func accuracyAndMacroF1ByHand() {
        let actual = ["a", "a", "a", "b", "b", "c"]
        let predicted = ["a", "a", "b", "b", "c", "c"]
        #expect(abs(Metrics.accuracy(predicted: predicted, actual: actual) - 4.0 / 6) < 1e-12)
        // F1 = 2TP / (2TP + FP + FN): a = 4/5, b = 2/4, c = 2/3.
        let expected = (0.8 + 0.5 + 2.0 / 3) / 3
        #expect(abs(Metrics.macroF1(predicted: predicted, actual: actual) - expected) < 1e-12)
    }

    @Test func macroF1CountsClassesOnlyPredicted() {
        // a: 1; b: never predicted → 0; z: predicted, never true → 0.
        #expect(abs(Metrics.macroF1(predicted: ["a", "z"], actual: ["a", "b"]) - 1.0 / 3) < 1e-12)
        #expect(Metrics.macroF1(predicted: [1, 2, 3], actual: [1, 2, 3]) == 1)
    }

    @Test func averageRanksShareTies() {
        #expect(Metrics.averageRanks([10, 20, 20, 30]) == [1, 2.5, 2.5, 4])
        #expect(Metrics.averageRanks([3, 1, 2]) == [3, 1, 2])
        #expect(Metrics.averageRanks([5, 5, 5]) == [2, 2, 2])
    }

    /// Expected values from scipy 1.x:
    /// ```python
    /// from scipy.stats import spearmanr
    /// spearmanr([1,2,2,3,4,4,4,5], [2,1,3,3,5,4,6,6]).statistic   # 0.9007775105401477
    /// spearmanr([0.9,0.1,0.5,0.3,0.7], [5,1,3,2,4]).statistic      # 0.9999999999999999
    /// spearmanr([3.1,1.2,1.2,5.5,0.4,2.2], [10,20,30,20,50,10]).statistic  # -0.7015706849811751
    /// ```
    @Test(arguments: [
        ([1, 2, 2, 3, 4, 4, 4, 5], [2, 1, 3, 3, 5, 4, 6, 6], 0.9007775105401477),
        ([0.9, 0.1, 0.5, 0.3, 0.7], [5, 1, 3, 2, 4], 1.0),
        ([3.1, 1.2, 1.2, 5.5, 0.4, 2.2], [10, 20, 30, 20, 50, 10], -0.7015706849811751),
    ] as [([Double], [Double], Double)])
    func spearmanMatchesScipy(x: [Double], y: [Double], expected: Double) {
        #expect(abs(Metrics.spearman(x, y) - expected) < 1e-12)
    }

    @Test func spearmanOfAConstantSampleIsNaN() {
        #expect(Metrics.spearman([1, 1, 1], [1, 2, 3]).isNaN)
    }

    @Test func perplexityOfUniformGuessIsTheVocabularySize() {
        #expect(abs(Metrics.perplexity(meanNegativeLogLikelihood: log(4.0)) - 4) < 1e-12)
        #expect(Metrics.perplexity(meanNegativeLogLikelihood: 0) == 1)
    }
}
