import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// `hidden_mse` for language models: the last hidden states after the final norm, through a
/// learned projection when the student is narrower, against the teacher's (kept as Float16 in the
/// teacher cache).
@Suite(.serialized) struct LanguageModelDistillationHiddenTests {
    /// The loss through a whole tiny Llama and a projection: gradients of the student's
    /// embedding, a block's down projection, the final norm and the projection against central
    /// differences; and the forward that gives the hidden states gives `callAsFunction`'s logits.
    @Test func hiddenMSEGradientsMatchFiniteDifferences() {
        var rng = RandomGenerator(seed: 5)
        let c = LlamaConfiguration(vocabularySize: 40, width: 16, layers: 1, heads: 2, kvHeads: 1, feedForwardWidth: 24, contextLength: 16)
        let student = LlamaModel(c, rng: &rng)
        for (_, p) in student.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.6, high: 1.4) : rng.normal(shape: p.shape, std: 0.3)
        }
        let projection = DistillationPass.projection(16, 24, channels: nil, rng: &rng)
        projection.weight.value = rng.normal(shape: projection.weight.shape, std: 0.3)
        let tokens = (0..<12).map { ($0 * 7 + 3) % 40 }   // batch 2 × length 6
        let teacher = rng.normal(shape: [2, 6, 24])
        let both = student.nextTokenLogitsAndHiddenStates(tokens, batch: 2, length: 6, tape: Tape(recording: false))
        #expect(both.hidden.shape == [2, 6, 16])
        #expect(both.logits.value == student(tokens, batch: 2, length: 6, tape: Tape(recording: false)).value)
        let parameters = [student.tokenEmbedding.weight, student.blocks[0].feedForward.down.weight, student.finalNorm.weight,
                          projection.weight, projection.bias!]
        let check = checkGradients([], parameters: parameters, epsilon: 1e-2) { tape, _ in
            let hidden = student.nextTokenLogitsAndHiddenStates(tokens, batch: 2, length: 6, tape: tape).hidden
            return DistillationLosses.hiddenMSE(student: hidden, teacher: teacher, attentionMask: .ones([2, 6]), projection: projection, tape: tape)
        }
        #expect(check.passed, "\(check)")
    }

    /// The projection's starting point recovers an exact affine map, and a channel selection
    /// (a width-pruned student's relation to its teacher) as the 0/1 matrix it is.
    @Test func leastSquaresProjectionRecoversALinearMap() throws {
        var rng = RandomGenerator(seed: 21)
        let (n, ds, dt) = (300, 7, 11)
        let x = rng.normal(shape: [n, ds])
        let w0 = rng.normal(shape: [dt, ds]), b0 = rng.normal(shape: [dt])
        let y = Tensor.matmul(x, w0, transposeB: true) + b0
        let fit = try #require(DistillationPass.leastSquaresProjection(student: x, teacher: y))
        #expect(isClose(fit.weight.value, w0, rtol: 1e-3, atol: 1e-3) && isClose(fit.bias!.value, b0, rtol: 1e-3, atol: 1e-3))
        // Teacher width 11, the student keeps channels 1, 4, 5, 9: the selection, zero bias.
        let kept = [1, 4, 5, 9]
        let teacher = rng.normal(shape: [n, dt])
        let student = Tensor(shape: [n, kept.count], scalars: (0..<n).flatMap { r in kept.map { teacher.scalars[r * dt + $0] } })
        let selection = try #require(DistillationPass.leastSquaresProjection(student: student, teacher: student))
        let identity = Tensor(shape: [kept.count, kept.count], scalars: (0..<(kept.count * kept.count)).map { $0 % (kept.count + 1) == 0 ? 1 : 0 })
        #expect(isClose(selection.weight.value, identity, rtol: 1e-3, atol: 1e-3))
        let back = try #require(DistillationPass.leastSquaresProjection(student: student, teacher: teacher))
        for (i, c) in kept.enumerated() { #expect(abs(back.weight.value.scalars[c * kept.count + i] - 1) < 1e-3) }
    }

    static func recipe(_ dir: String, losses: String, steps: Int = 40) -> String {
        """
        name: tiny-llama-hidden-kd
        model: { path: \(dir)/llama }
        data: { calibration: { path: \(dir)/text.txt } }
        evaluation:
          - { task: kl_divergence, data: \(dir)/text.txt, context: 32 }
        stages:
          - prune_structured: { hidden_ratio: 0.25, method: activation }
          - distill:
              teachers: [{ path: \(dir)/llama }]
              losses: \(losses)
              data: \(dir)/text.txt
              sequence_length: 32
              teacher_top_k: 16
              teacher_cache: \(dir)/teacher-cache.h5
              steps: \(steps)
              batch_size: 4
              learning_rate: 0.003
        output: { dir: \(dir)/out, formats: [safetensors] }
        """
    }

    /// A recipe narrows the tiny Llama's width (64 → 48) and distils it from the untouched
    /// teacher with hidden_mse (through the projection) and logit_kl: the loss falls, the teacher
    /// cache holds the Float16 hidden states under its key, a second run reads them and trains to
    /// the same bits, and a cache written without hidden states is refused by field.
    @Test func aRecipeDistilsHiddenStatesThroughAProjection() throws {
        try withTemporaryDirectory { dir in
            try LlamaPipelineTests.makeFolder(dir)
            let losses = "[{ loss: hidden_mse }, { loss: logit_kl }]"
            let report = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: losses), file: "hidden.yaml")).run()
            let training = try #require(report.stages[2].training)
            let l = training.losses
            let (start, end) = (l.prefix(5).reduce(0, +) / 5, l.suffix(5).reduce(0, +) / 5)
            #expect(end < 0.5 * start, "loss \(start) → \(end)")
            // Distillation brings the narrowed student back towards its teacher.
            let (pruned, distilled) = (report.stages[1].metrics["kl_mean"]!, report.stages[2].metrics["kl_mean"]!)
            #expect(distilled < pruned, "KL \(pruned) → \(distilled)")
            print("hidden_mse + logit_kl on the tiny Llama narrowed 64 → 48: loss \(start) → \(end), kl_mean \(pruned) → \(distilled)")

            let store = try HDF5CheckpointReader.read(path: dir + "/teacher-cache.h5")
            #expect(store.metadata[TeacherTopKCache.hiddenStatesField] == "float16 after the final norm, width 64")
            let hidden = try #require(store["teacher.0.hidden"])
            #expect(hidden.dtype == .f16 && hidden.shape.count == 3 && hidden.shape[1...] == [32, 64])
            let again = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: losses), file: "hidden.yaml")).run()
            #expect(again.stages[2].training?.losses == l)

            // A cache of top-k distributions alone cannot serve hidden_mse: the key says so.
            try FileManager.default.removeItem(atPath: dir + "/teacher-cache.h5")
            _ = try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: "[{ loss: logit_kl }]", steps: 2), file: "kl.yaml")).run()
            let error = #expect(throws: (any Error).self) {
                try Pipeline(recipe: try Recipe(yaml: Self.recipe(dir, losses: losses, steps: 2), file: "hidden.yaml")).run()
            }
            #expect(error.map { "\($0)" }?.contains(TeacherTopKCache.hiddenStatesField) == true, "\(String(describing: error))")
        }
    }

    /// hidden_mse needs a model that gives hidden states; the refusals name the loss.
    @Test func hiddenMSEWithoutHiddenStatesIsRefused() throws {
        try withTemporaryDirectory { dir in
            let data = try LanguageModelDistillationTests.writeText(dir)
            let tokenizer = try LanguageModelDistillationTests.byteTokenizer(order: Array(0..<256))
            let teacher = EvaluatedModel(.llama(LanguageModelDistillationTests.llama(seed: 41)), input: .byteLevelBPE(tokenizer))
            let student = EvaluatedModel(.llama(LanguageModelDistillationTests.llama(seed: 42, layers: 1)), input: .byteLevelBPE(tokenizer))
            var pass = DistillationPass(options: LanguageModelDistillationTests.options(data, losses: [.init(kind: .hiddenMSE)], steps: 4), seed: 1)
            pass.log = { _ in }
            // Same width: no projection, and the loss is a plain MSE that training lowers.
            let result = try pass.run(model: student, teachers: [.init(model: teacher)])
            #expect(result.training.losses.last! < result.training.losses.first!)
            // An endpoint teacher sends log-probabilities only (refused before any request).
            let endpoint = EndpointTeacherOptions(url: "http://127.0.0.1:9/v1", model: "m")
            let error = #expect(throws: TrainingError.self) { try pass.run(model: student, teachers: [.init(endpoint: endpoint)]) }
            #expect(error.map { "\($0)" }?.contains("hidden_mse") == true, "\(String(describing: error))")
            // Hidden states beyond Float16's range, in which the cache keeps them: refused, not stored as ∞.
            let loud = LanguageModelDistillationTests.llama(seed: 41)
            loud.finalNorm.weight.value = loud.finalNorm.weight.value * 1e6
            let overflow = #expect(throws: TrainingError.self) {
                try pass.run(model: student, teachers: [.init(model: EvaluatedModel(.llama(loud), input: .byteLevelBPE(tokenizer)))])
            }
            #expect(overflow.map { "\($0)" }?.contains("Float16") == true, "\(String(describing: overflow))")
        }
    }
}
