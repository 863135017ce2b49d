import NanoTensor

/// Trains the character-level GPT decoder on a text: the foundation's second real training run.
public struct CharLMTraining {
    public struct Options: Sendable {
        public var layers = 2
        public var width = 64
        public var heads = 4
        public var contextLength = 64
        public var batchSize = 32
        public var steps = 600
        public var learningRate: Float = 3e-3
        public var warmupSteps = 50
        public var validationFraction = 0.1
        public var validationWindows = 64
        public var seed: UInt64 = 0
        public init() {}
    }

    public struct Result: Sendable {
        public var trainLoss: [Float]
        public var validationLoss: Double
        public var unigramEntropy: Double
        public var vocabularySize: Int
    }

    public static func run(text: String, options o: Options = Options(),
                           progress: ((Int, Float) -> Void)? = nil) -> (model: GPTDecoder, result: Result) {
        let vocabulary = CharacterVocabulary(corpus: text)
        let tokens = vocabulary.encode(text)
        let cut = Int(Double(tokens.count) * (1 - o.validationFraction))
        let train = Array(tokens[..<cut]), validation = Array(tokens[cut...])
        var rng = RandomGenerator(seed: o.seed)
        var config = GPTDecoder.Configuration(vocabularySize: vocabulary.count, contextLength: o.contextLength,
                                              width: o.width, layers: o.layers, heads: o.heads)
        config.characters = vocabulary.characters
        let model = GPTDecoder(config, rng: &rng)
        let optimizer = AdamW(learningRate: o.learningRate, beta2: 0.99, weightDecay: 0.01)
        let schedule = LearningRateSchedule(peak: o.learningRate, warmupSteps: o.warmupSteps, totalSteps: o.steps,
                                            decay: .cosine, minimum: o.learningRate / 10)
        var losses: [Float] = []
        for step in 0..<o.steps {
            let (inputs, targets) = windows(train, count: o.batchSize, length: o.contextLength, rng: &rng)
            let tape = Tape()
            let logits = model(inputs, batch: o.batchSize, length: o.contextLength, tape: tape)
            let loss = Loss.crossEntropy(logits, targets: targets, tape: tape)
            model.zeroGradients()
            tape.backward(from: loss)
            clipGradientNorm(model.parameters, maxNorm: 1)
            optimizer.learningRate = schedule.rate(at: step)
            optimizer.step(model.parameters)
            losses.append(loss.value.scalar)
            progress?(step, loss.value.scalar)
        }
        var valRng = RandomGenerator(seed: o.seed &+ 99)
        let (vi, vt) = windows(validation, count: o.validationWindows, length: o.contextLength, rng: &valRng)
        let valLoss = evaluate(model, inputs: vi, targets: vt, windows: o.validationWindows, length: o.contextLength)
        let entropy = CharacterVocabulary.unigramEntropy(tokens, vocabularySize: vocabulary.count)
        return (model, Result(trainLoss: losses, validationLoss: valLoss, unigramEntropy: entropy, vocabularySize: vocabulary.count))
    }

    /// Random windows: inputs x[i..<i+T] and next-character targets x[i+1...i+T].
    public static func windows(_ tokens: [Int], count: Int, length: Int, rng: inout RandomGenerator) -> (inputs: [Int], targets: [Int]) {
        precondition(tokens.count > length + 1, "text of \(tokens.count) tokens is too short for windows of \(length)")
        var inputs: [Int] = [], targets: [Int] = []
        inputs.reserveCapacity(count * length); targets.reserveCapacity(count * length)
        for _ in 0..<count {
            let start = rng.nextInt(below: tokens.count - length - 1)
            inputs += tokens[start..<(start + length)]
            targets += tokens[(start + 1)...(start + length)]
        }
        return (inputs, targets)
    }

    /// Mean next-token cross-entropy (nats) of `model` over the given windows.
    public static func evaluate(_ model: GPTDecoder, inputs: [Int], targets: [Int], windows: Int, length: Int) -> Double {
        let tape = Tape(recording: false)
        let logits = model(inputs, batch: windows, length: length, tape: tape)
        return Double(Loss.crossEntropy(logits, targets: targets, tape: tape).value.scalar)
    }
}
