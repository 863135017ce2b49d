import Foundation
import Testing
import NanoTensor
import NanoModels
import TestSupport

/// The foundation's two real training runs, seeded.
@Suite struct TrainingRunTests {
    @Test func digitsMLPReachesNinetyFivePercent() throws {
        let data = try DigitsDataset.load(csv: try RepositoryPaths.requireCached("data/digits.csv"))
        #expect(data.count == 1797)
        let (_, result) = DigitsTraining.run(data)
        #expect(result.testCount == 359)
        #expect(result.trainLoss.last! < result.trainLoss.first!)
        // Measured 0.97+ with the default options and seed.
        print("digits MLP: held-out accuracy \(result.testAccuracy) on \(result.testCount) digits")
        #expect(result.testAccuracy >= 0.95, "held-out accuracy \(result.testAccuracy)")
    }

    @Test func charDecoderBeatsUnigramEntropyByThirtyPercent() throws {
        let text = try String(contentsOfFile: try RepositoryPaths.requireCached("data/pydoc-topics.txt"), encoding: .utf8)
        let (_, result) = CharLMTraining.run(text: text)
        let ratio = result.validationLoss / result.unigramEntropy
        print("char decoder: validation loss \(result.validationLoss) nats, unigram entropy \(result.unigramEntropy), ratio \(ratio)")
        #expect(ratio <= 0.70, "validation loss \(result.validationLoss) vs unigram entropy \(result.unigramEntropy)")
    }
}
