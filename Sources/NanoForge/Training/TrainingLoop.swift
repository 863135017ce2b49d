import Foundation
import NanoModels
import NanoTensor

/// The one training loop of every training pass (`distill` today; `qat` and scheduled pruning
/// plug in the same way): AdamW with linear warm-up and cosine decay, global-norm gradient
/// clipping, periodic evaluation that keeps the best parameters, and atomic checkpoints that a
/// resumed run continues from bit for bit.
///
/// A pass supplies the parameters, the batches (`TrainingBatches`) and a step closure that builds
/// the loss of one batch on a recording tape; the loop does everything else. Under one seed two
/// runs give identical weights, and a run stopped and resumed from its last checkpoint ends with
/// the same weights as one that was never stopped.
public struct TrainingLoop {
    public struct Configuration: Sendable {
        public var steps: Int
        public var batchSize: Int
        public var learningRate: Float
        public var warmup = 0
        /// Evaluate every N steps (and after the last) and keep the best parameters; 0: never.
        public var evalEvery = 0
        /// Write a checkpoint every N steps into `checkpointDirectory`; 0: never.
        public var checkpointEvery = 0
        public var seed: UInt64
        public var weightDecay: Float = 0.01
        public var maxGradientNorm: Float = 1
        public var checkpointDirectory: String?
        /// Continue from the checkpoint in `checkpointDirectory` when there is one.
        public var resume = false
        /// Stop after this many steps as if interrupted (tests of resumption).
        public var stopAfter: Int?

        public init(steps: Int, batchSize: Int, learningRate: Float, seed: UInt64) {
            self.steps = steps; self.batchSize = batchSize; self.learningRate = learningRate; self.seed = seed
        }

        /// The recipe's training options.
        public init(_ o: TrainingOptions, seed: UInt64) {
            self.init(steps: o.steps, batchSize: o.batchSize, learningRate: Float(o.learningRate), seed: seed)
            warmup = o.warmup; evalEvery = o.evalEvery; checkpointEvery = o.checkpointEvery
        }
    }

    /// Reported after every step.
    public struct Progress: Sendable {
        public var step: Int
        public var steps: Int
        public var loss: Float
        public var examplesPerSecond: Double
        public var secondsLeft: Double
    }

    public struct Result: Sendable {
        /// Steps done in all, resumed ones included.
        public var steps: Int
        /// The mean loss of the last (up to 10) steps.
        public var finalLoss: Float
        /// This run's loss per step.
        public var losses: [Float]
        /// The mean loss of this run's first (up to 10) steps: with `finalLoss`, what training
        /// achieved (after a resume, from where this run started).
        public var initialLoss: Float { losses.isEmpty ? .nan : losses.prefix(10).reduce(0, +) / Float(min(10, losses.count)) }
        public var bestScore: Double?
        public var bestStep: Int?
        /// The step the run resumed from, when it did.
        public var resumedFrom: Int?
        /// Whether `stopAfter` ended the run early.
        public var interrupted: Bool
    }

    public let parameters: [(name: String, variable: Variable)]
    public let configuration: Configuration
    public let batches: TrainingBatches
    /// Scores the current parameters, higher is better.
    public var evaluate: (() throws -> Double)?
    public var progress: (Progress) -> Void = { _ in }
    /// Called after each optimizer step with the 1-based step count: the hook where scheduled
    /// pruning re-applies its masks (and updates them on its schedule).
    public var afterStep: ((_ step: Int) throws -> Void)?

    public init(parameters: [(name: String, variable: Variable)], configuration: Configuration, batches: TrainingBatches) {
        precondition(Set(parameters.map(\.name)).count == parameters.count, "TrainingLoop: parameter names must be distinct")
        self.parameters = parameters; self.configuration = configuration; self.batches = batches
    }

    /// Trains; `step` returns the scalar loss of one batch (example indices) built on `tape`.
    public func run(_ step: (_ batch: [Int], _ tape: Tape) throws -> Variable) throws -> Result {
        let c = configuration
        let variables = parameters.map(\.variable)
        let optimizer = AdamW(learningRate: c.learningRate, weightDecay: c.weightDecay)
        let schedule = LearningRateSchedule(peak: c.learningRate, warmupSteps: c.warmup, totalSteps: c.steps, decay: .cosine)
        var start = 0, resumedFrom: Int?
        var best: [Tensor]?, bestScore: Double?, bestStep: Int?
        var recent: [Float] = []
        if c.resume, let folder = c.checkpointDirectory, let checkpoint = try TrainingCheckpoint.read(from: folder) {
            try restore(checkpoint, optimizer: optimizer, folder: folder)
            start = checkpoint.state.step; resumedFrom = start
            best = checkpoint.best.map { b in parameters.map { b[$0.name] ?? $0.variable.value } }
            bestScore = checkpoint.state.bestScore; bestStep = checkpoint.state.bestStep
            recent = checkpoint.state.recentLosses
        }
        var losses: [Float] = []
        var cached: (epoch: Int, batches: [[Int]])?
        let clock = ContinuousClock(), began = clock.now
        var examples = 0
        for s in start..<c.steps {
            let (epoch, index) = batches.position(ofStep: s)
            if cached?.epoch != epoch { cached = (epoch, batches.epoch(epoch)) }
            let batch = cached!.batches[index]
            for v in variables { v.zeroGrad() }
            let tape = Tape()
            let loss = try step(batch, tape)
            let value = loss.value.scalar
            guard value.isFinite else { throw TrainingError.nonFiniteLoss(step: s + 1) }
            tape.backward(from: loss)
            clipGradientNorm(variables, maxNorm: c.maxGradientNorm)
            optimizer.learningRate = schedule.rate(at: s)
            optimizer.step(variables)
            for v in variables { v.zeroGrad() }
            try afterStep?(s + 1)
            losses.append(value)
            recent = Array((recent + [value]).suffix(10))
            examples += batch.count
            let done = s + 1
            if c.evalEvery > 0, let evaluate, done % c.evalEvery == 0 || done == c.steps {
                let score = try evaluate()
                if bestScore == nil || score > bestScore! {
                    bestScore = score; bestStep = done; best = variables.map(\.value)
                }
            }
            if c.checkpointEvery > 0, let folder = c.checkpointDirectory, done % c.checkpointEvery == 0 {
                try checkpoint(done, optimizer: optimizer, best: best, bestScore: bestScore, bestStep: bestStep, recent: recent)
                    .write(to: folder)
            }
            let elapsed = Self.seconds(clock.now - began)
            progress(Progress(step: done, steps: c.steps, loss: value, examplesPerSecond: elapsed > 0 ? Double(examples) / elapsed : 0,
                              secondsLeft: elapsed / Double(done - start) * Double(c.steps - done)))
            if let stop = c.stopAfter, done >= stop, done < c.steps {
                return Result(steps: done, finalLoss: Self.mean(recent), losses: losses, bestScore: bestScore, bestStep: bestStep,
                              resumedFrom: resumedFrom, interrupted: true)
            }
        }
        if let best { for (v, b) in zip(variables, best) { v.value = b } }
        return Result(steps: c.steps, finalLoss: Self.mean(recent), losses: losses, bestScore: bestScore, bestStep: bestStep,
                      resumedFrom: resumedFrom, interrupted: false)
    }

    func checkpoint(_ step: Int, optimizer: AdamW, best: [Tensor]?, bestScore: Double?, bestStep: Int?, recent: [Float]) -> TrainingCheckpoint {
        var m: [String: Tensor] = [:], v: [String: Tensor] = [:], values: [String: Tensor] = [:]
        for (name, p) in parameters {
            values[name] = p.value
            if let moments = optimizer.moments(of: p) {
                m[name] = Tensor(shape: p.shape, scalars: moments.m)
                v[name] = Tensor(shape: p.shape, scalars: moments.v)
            }
        }
        let position = batches.position(ofStep: step)
        let state = TrainingCheckpoint.State(step: step, epoch: position.epoch, batch: position.batch, seed: configuration.seed,
                                             steps: configuration.steps, batchSize: batches.batchSize, examples: batches.count,
                                             optimizerSteps: optimizer.stepCount, bestScore: bestScore, bestStep: bestStep,
                                             recentLosses: recent)
        let bestValues = best.map { b in Dictionary(uniqueKeysWithValues: zip(parameters.map(\.name), b)) }
        return TrainingCheckpoint(state: state, parameters: values, firstMoments: m, secondMoments: v, best: bestValues)
    }

    func restore(_ checkpoint: TrainingCheckpoint, optimizer: AdamW, folder: String) throws {
        let path = TrainingCheckpoint.path(in: folder), s = checkpoint.state, c = configuration
        func require(_ ok: Bool, _ reason: @autoclosure () -> String) throws {
            if !ok { throw TrainingError.checkpointMismatch(path: path, reason: reason()) }
        }
        try require(s.seed == c.seed, "seed \(s.seed), this run \(c.seed)")
        try require(s.steps == c.steps && s.batchSize == batches.batchSize, "steps/batch_size \(s.steps)/\(s.batchSize), this run \(c.steps)/\(batches.batchSize)")
        try require(s.examples == batches.count, "\(s.examples) training examples, this run \(batches.count)")
        try require(s.step <= c.steps, "step \(s.step) beyond \(c.steps)")
        try require(Set(checkpoint.parameters.keys) == Set(parameters.map(\.name)), "the parameter names differ")
        for (name, p) in parameters {
            let value = checkpoint.parameters[name]!
            try require(value.shape == p.shape, "\(name) has shape \(value.shape), the model \(p.shape)")
            p.value = value
            if let m = checkpoint.firstMoments[name], let v = checkpoint.secondMoments[name] {
                optimizer.setMoments(of: p, m: m.scalars, v: v.scalars)
            }
        }
        optimizer.stepCount = s.optimizerSteps
    }

    static func mean(_ values: [Float]) -> Float { values.isEmpty ? .nan : values.reduce(0, +) / Float(values.count) }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
}
