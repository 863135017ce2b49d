import NanoTensor

/// Trains the MLP classifier on the digits data: the foundation's first real training run.
public struct DigitsTraining {
    public struct Options: Sendable {
        public var hidden: [Int] = [128]
        public var epochs = 40
        public var batchSize = 32
        public var learningRate: Float = 3e-3
        public var weightDecay: Float = 1e-4
        public var heldOutFraction = 0.2
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        public var trainLoss: [Float]     // mean loss per epoch
        public var testAccuracy: Double
        public var trainCount: Int
        public var testCount: Int
    }

    public static func run(_ data: DigitsDataset, options o: Options = Options(),
                           progress: ((Int, Float) -> Void)? = nil) -> (model: MLPClassifier, result: Result) {
        let (train, test) = data.split(heldOutFraction: o.heldOutFraction, seed: o.seed)
        var rng = RandomGenerator(seed: o.seed &+ 1)
        let model = MLPClassifier(.init(inputs: 64, hidden: o.hidden, classes: 10), rng: &rng)
        let optimizer = AdamW(learningRate: o.learningRate, weightDecay: o.weightDecay)
        let stepsPerEpoch = (train.count + o.batchSize - 1) / o.batchSize
        let schedule = LearningRateSchedule(peak: o.learningRate, warmupSteps: stepsPerEpoch,
                                            totalSteps: stepsPerEpoch * o.epochs, decay: .cosine)
        var losses: [Float] = []
        var step = 0
        for epoch in 0..<o.epochs {
            let order = rng.permutation(train.count)
            var epochLoss: Float = 0
            for start in stride(from: 0, to: train.count, by: o.batchSize) {
                let batch = train.subset(Array(order[start..<min(start + o.batchSize, train.count)]))
                let tape = Tape()
                let logits = model(tape.constant(batch.features), tape: tape)
                let loss = Loss.crossEntropy(logits, targets: batch.labels, tape: tape)
                model.zeroGradients()
                tape.backward(from: loss)
                optimizer.learningRate = schedule.rate(at: step)
                optimizer.step(model.parameters)
                epochLoss += loss.value.scalar * Float(batch.count)
                step += 1
            }
            losses.append(epochLoss / Float(train.count))
            progress?(epoch, losses.last!)
        }
        let accuracy = Self.accuracy(model, test)
        return (model, Result(trainLoss: losses, testAccuracy: accuracy, trainCount: train.count, testCount: test.count))
    }

    /// Fraction of rows whose argmax logit is the label.
    public static func accuracy(_ model: MLPClassifier, _ data: DigitsDataset) -> Double {
        let logits = model(Variable(data.features), tape: Tape(recording: false)).value
        let predicted = logits.argmaxLastAxis()
        return Double(zip(predicted, data.labels).filter { $0 == $1 }.count) / Double(data.count)
    }
}
