import Foundation
import Testing
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor
import TestSupport

/// The `distill` pass: its losses' gradients, the student builder, and distillation runs on a
/// tiny BERT and on the digits classifier.
@Suite struct DistillationTests {
    typealias Fixture = TrainingLoopTests

    // MARK: gradients

    /// Pooled, normalised embeddings of a fixed batch through the tiny encoder, on `tape`.
    static func pooled(_ encoder: SentenceEncoder, _ tape: Tape) -> (Variable, Variable, SentenceEncoder.Batch) {
        let b = encoder.batch(["the cat sat on the mat", "a big red ball", "the dog ran"])
        let hidden = encoder.encoder(b.ids, attentionMask: b.attentionMask, tape: tape)
        return (SentencePooling.sentenceEmbeddings(hidden, attentionMask: b.attentionMask, tape: tape), hidden, b)
    }

    @Test func embeddingLossGradientsMatchFiniteDifferences() throws {
        let encoder = try Fixture.tinyEncoder(layers: 1)
        var rng = RandomGenerator(seed: 4)
        let target = Metrics.normalizedRows(rng.normal(shape: [3, 32]))
        let parameters = [encoder.encoder.layers[0].feedForward.down.weight, encoder.encoder.layers[0].outputNorm.weight,
                          encoder.encoder.layers[0].attention.value.weight]
        let cosine = checkGradients([], parameters: parameters, epsilon: 1e-2) { tape, _ in
            DistillationLosses.embeddingCosine(student: Self.pooled(encoder, tape).0, teacher: target, tape: tape)
        }
        #expect(cosine.passed, "\(cosine)")
        // MSE of unit vectors is small: scale it so the check is not trivially within tolerance.
        let mse = checkGradients([], parameters: parameters, epsilon: 1e-2) { tape, _ in
            tape.scale(DistillationLosses.embeddingMSE(student: Self.pooled(encoder, tape).0, teacher: target, tape: tape), by: 100)
        }
        #expect(mse.passed, "\(mse)")
    }

    @Test func hiddenMSEGradientsThroughTheProjectionMatchFiniteDifferences() throws {
        let encoder = try Fixture.tinyEncoder(layers: 1)
        var rng = RandomGenerator(seed: 6)
        let projection = Linear(32, 48, std: 0.2, rng: &rng)
        let b = encoder.batch(["the cat sat on the mat", "a big red ball", "the dog ran"])
        let teacher = rng.normal(shape: [3, b.length, 48])
        let parameters = [projection.weight, projection.bias!, encoder.encoder.layers[0].outputNorm.bias]
        let check = checkGradients([], parameters: parameters, epsilon: 1e-2) { tape, _ in
            let hidden = encoder.encoder(b.ids, attentionMask: b.attentionMask, tape: tape)
            return DistillationLosses.hiddenMSE(student: hidden, teacher: teacher, attentionMask: b.attentionMask,
                                                projection: projection, tape: tape)
        }
        #expect(check.passed, "\(check)")
        // Padding positions do not count: changing the teacher there leaves the loss unchanged.
        var padded = teacher
        let t = b.length
        for row in 0..<3 { for j in 0..<t where b.attentionMask.scalars[row * t + j] == 0 { for k in 0..<48 { padded.scalars[(row * t + j) * 48 + k] = 5 } } }
        let quiet = Tape(recording: false)
        let hidden = encoder.encoder(b.ids, attentionMask: b.attentionMask, tape: quiet)
        let a = DistillationLosses.hiddenMSE(student: hidden, teacher: teacher, attentionMask: b.attentionMask, projection: projection, tape: quiet)
        let c = DistillationLosses.hiddenMSE(student: hidden, teacher: padded, attentionMask: b.attentionMask, projection: projection, tape: quiet)
        #expect(a.value.scalar == c.value.scalar)
    }

    // MARK: student construction

    @Test func shrunkStudentHasTheRequestedShapesAndCopiesTeacherWeights() throws {
        let teacher = try Fixture.tinyEncoder(layers: 3).encoder
        let student = try StudentBuilder.shrink(teacher, layers: [0, 2], intermediate: 40, heads: 2)
        #expect(student.configuration.layers == 2)
        #expect(student.layers.map(\.feedForward.hiddenWidth) == [40, 40])
        #expect(student.layers.map(\.attention.heads) == [2, 2])
        #expect(student.configuration.intermediateWidth == 40 && student.configuration.layerHeads == [2, 2])
        #expect(student.layers[1].outputNorm.weight.value == teacher.layers[2].outputNorm.weight.value)
        #expect(student.layers[0].attention.query.weight.shape == [16, 32])
        let plain = try StudentBuilder.shrink(teacher, layers: [1])
        #expect(plain.layers[0].attention.query.weight.value == teacher.layers[1].attention.query.weight.value)
        plain.layers[0].attention.query.weight.value.scalars[0] += 1     // the teacher is not written through
        #expect(plain.layers[0].attention.query.weight.value != teacher.layers[1].attention.query.weight.value)
        #expect(throws: TrainingError.self) { try StudentBuilder.shrink(teacher, layers: [3]) }
        #expect(throws: TrainingError.self) { try StudentBuilder.shrink(teacher, hidden: 12) }   // not a multiple of the head width 8
        #expect(throws: TrainingError.self) { try StudentBuilder.shrink(teacher, heads: 8) }
    }

    // MARK: runs

    static func options(_ yaml: String) throws -> DistillPass {
        let recipe = try Recipe(yaml: """
            name: t
            model: { path: m }
            stages:
              - distill: \(yaml)
            output: { dir: o }
            """, file: "t.yaml")
        guard let o = recipe.stages[0].pass as? DistillPass else { throw TrainingError.unsupported(option: "test", reason: "not a distill stage") }
        return o
    }

    /// Mean cosine of student and teacher embeddings.
    static func fidelity(_ student: SentenceEncoder, _ teacher: SentenceEncoder, _ sentences: [String]) -> Double {
        Metrics.cosineSummary(student.encode(sentences), teacher.encode(sentences)).mean
    }

    @Test func oneLayerStudentOfATwoLayerTeacherGainsFidelity() throws {
        try withTemporaryDirectory { dir in
            // N(0, 0.02) layers barely change a random BERT's embeddings; larger weights make the
            // second layer matter, so a one-layer student starts visibly off.
            let teacher = try Fixture.tinyEncoder(layers: 2)
            for (_, linear) in teacher.encoder.layers(of: Linear.self) { linear.weight.value = linear.weight.value * 12 }
            let sentences = Fixture.sentences(72, seed: 21)
            let (train, heldOut) = (Array(sentences.prefix(48)), Array(sentences.suffix(24)))
            try (train.joined(separator: "\n") + "\n").write(toFile: dir + "/train.txt", atomically: true, encoding: .utf8)
            let o = try Self.options("{ layers: [0], losses: [{loss: embedding_cosine}, {loss: embedding_mse}, {loss: hidden_mse, weight: 0.1}], data: \(dir)/train.txt, steps: 80, batch_size: 8, learning_rate: 0.002, warmup: 5 }")
            let initial = try StudentBuilder.shrink(teacher.encoder, layers: [0])
            let before = Self.fidelity(SentenceEncoder(tokenizer: teacher.tokenizer, encoder: initial), teacher, heldOut)
            let result = try DistillationPass(options: o, seed: 3).run(model: .sentenceEncoder(teacher), teachers: [.init(model: .sentenceEncoder(teacher))])
            guard let student = result.student.sentenceEncoder else { Issue.record("not an encoder"); return }
            let after = Self.fidelity(student, teacher, heldOut)
            print("distill tiny BERT 2 → 1 layer: held-out fidelity \(before) → \(after); loss \(result.training.losses.first!) → \(result.training.finalLoss)")
            #expect(student.encoder.configuration.layers == 1)
            #expect(after > 0.9 && after > before + 0.3)     // measured 0.441 → 0.951
            #expect(result.training.finalLoss < result.training.losses.first!)
        }
    }

    @Test func digitsClassifierDistilsIntoANarrowerStudent() throws {
        try withTemporaryDirectory { dir in
            let teacher = try EvaluatedModel.load(path: RepositoryPaths.fixture("models/digits-mlp"), recipe: "test").model
            try ModelSpec.mlp(.init(inputs: 64, hidden: [32], classes: 10)).nativeJSON.serialized
                .write(toFile: dir + "/student.json", atomically: true, encoding: .utf8)
            let data = RepositoryPaths.fixture("models/digits-mlp/calibration.tsv")
            let o = try Self.options("{ config: \(dir)/student.json, losses: [{loss: logit_kl, temperature: 2}, {loss: task, weight: 0.5}], data: \(data), steps: 240, batch_size: 32, learning_rate: 0.005, warmup: 10 }")
            let result = try DistillationPass(options: o, seed: 1).run(model: teacher, teachers: [.init(model: teacher)])
            let test = RepositoryPaths.fixture("models/digits-mlp/test.tsv")
            let task = EvaluationTask.classification(train: data, test: test)
            let studentAccuracy = try task.evaluate(result.student)["accuracy"]!
            let teacherAccuracy = try task.evaluate(teacher)["accuracy"]!
            print("distill digits MLP 128 → 32 hidden: test accuracy \(studentAccuracy) (teacher \(teacherAccuracy)), \(result.parameterCount) parameters")
            #expect(result.parameterCount == 64 * 32 + 32 + 32 * 10 + 10)
            #expect(studentAccuracy > 0.88)                      // measured 0.911 (teacher 0.981)
            #expect(result.training.finalLoss < result.training.initialLoss)
        }
    }

    @Test func sentenceEncodersRefuseLossesTheyCannotUse() throws {
        let teacher = try Fixture.tinyEncoder(layers: 1)
        for loss in ["logit_kl", "task"] {
            let o = try Self.options("{ losses: [{loss: \(loss)}], data: /dev/null, steps: 1 }")
            #expect(throws: TrainingError.self) {
                try DistillationPass(options: o, seed: 0).run(model: .sentenceEncoder(teacher), teachers: [.init(model: .sentenceEncoder(teacher))])
            }
        }
    }

    @Test func pipelineDistillStageWritesAStudentThatLoadsBack() throws {
        try withTemporaryDirectory { dir in
            try PipelineTests.makeFixture(dir)
            let yaml = PipelineTests.recipe(dir, stages: """
              - distill: { layers: [1], intermediate: 48, heads: 2, losses: [{loss: embedding_cosine}], data: \(dir)/sentences.txt, steps: 6, batch_size: 4, learning_rate: 0.001, eval_every: 3, checkpoint_every: 3 }
              - quantize: { bits: 8 }
            """)
            let report = try Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml")).run()
            #expect(report.stages.map(\.name) == ["baseline", "1:distill", "2:quantize"])
            #expect(report.stages[1].parameters < report.stages[0].parameters)
            let loaded = try SentenceEncoder.load(path: "\(dir)/out")
            #expect(loaded.encoder.configuration.layers == 1)
            #expect(loaded.encoder.layers[0].feedForward.hiddenWidth == 48 && loaded.encoder.layers[0].attention.heads == 2)
            #expect(FileManager.default.fileExists(atPath: "\(dir)/out.checkpoints/stage-0/\(TrainingCheckpoint.fileName)"))
            // A resumed run finds the finished checkpoint and gives the same student.
            var pipeline = Pipeline(recipe: try Recipe(yaml: yaml, file: "tiny.yaml"))
            pipeline.resume = true
            let again = try pipeline.run()
            #expect(again.stages[1].metrics == report.stages[1].metrics)
        }
    }
}
