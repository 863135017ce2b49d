import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
import NanoTensor
import TestSupport

/// Language-model distillation (`DistillationPass+LanguageModel`): the top-k divergences' gradients
/// against finite differences and against the full KL, the teacher-to-student vocabulary mapping,
/// a student that learns its teacher, and the on-disk teacher cache.
@Suite struct LanguageModelDistillationTests {
    /// Rows with empty slots (a teacher token the student lacks) and a spread of remainders.
    static func teacher(rows: Int, k: Int, vocabulary: Int, seed: UInt64) -> TopKDistribution {
        var rng = RandomGenerator(seed: seed)
        let logits = rng.normal(shape: [rows, vocabulary], std: 2)
        // The student lacks teacher token 3: its mass joins the remainder.
        return TopKDistribution(logits: logits, k: k, temperature: 1.5, studentId: { $0 == 3 ? nil : $0 })
    }

    @Test(arguments: [Loss.DivergenceDirection.forward, .reverse])
    func topKDivergenceGradientsMatchFiniteDifferences(direction: Loss.DivergenceDirection) {
        let (rows, v, k) = (6, 11, 4)
        let teacher = Self.teacher(rows: rows, k: k, vocabulary: v, seed: 3)
        #expect(teacher.ids.contains(-1), "the fixture has an empty slot")
        var rng = RandomGenerator(seed: 4)
        let logits = rng.normal(shape: [rows, v], std: 1.5)
        let check = checkGradients([logits], epsilon: 1e-2) { tape, x in
            Loss.topKDivergence(student: x[0], teacher: teacher, direction: direction, temperature: 2, tape: tape)
        }
        #expect(check.passed, "\(direction): \(check)")
    }

    /// With every token in its slots the forward divergence is Hinton's full KL.
    @Test func everyTokenInTheSlotsGivesTheFullKL() {
        var rng = RandomGenerator(seed: 8)
        let (rows, v) = (5, 9)
        let teacherLogits = rng.normal(shape: [rows, v], std: 2), studentLogits = rng.normal(shape: [rows, v], std: 2)
        let all = TopKDistribution(logits: teacherLogits, k: v, temperature: 2)
        #expect(all.remainder.allSatisfy { abs($0) < 1e-6 })
        let tape = Tape(recording: false)
        let topK = Loss.topKDivergence(student: Variable(studentLogits), teacher: all, direction: .forward, temperature: 2, tape: tape).value.scalar
        let full = Loss.klDivergence(student: Variable(studentLogits), teacher: Variable(teacherLogits), temperature: 2, tape: tape).value.scalar
        #expect(abs(topK - full) <= 1e-5 * max(1, abs(full)), "top-k \(topK), full \(full)")
        // And the slots are the k largest, most likely first.
        let two = TopKDistribution(logits: teacherLogits, k: 2)
        for r in 0..<rows {
            let row = Array(teacherLogits.scalars[(r * v)..<((r + 1) * v)])
            let best = row.indices.sorted { row[$0] > row[$1] }.prefix(2).map(Int32.init)
            #expect(Array(two.ids[(2 * r)..<(2 * r + 2)]) == best)
        }
    }

    // MARK: distillation runs

    static func byteTokenizer(order: [Int]) throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(BPETokenizerDescription(source: "bytes", tokens: order.map { ByteLevelAlphabet.spell([UInt8($0)]) },
                                                          merges: [], preTokenizer: .gpt2))
    }

    static func llama(seed: UInt64, layers: Int = 2) -> LlamaModel {
        var rng = RandomGenerator(seed: seed)
        let c = LlamaConfiguration(vocabularySize: 256, width: 32, layers: layers, heads: 4, kvHeads: 2, feedForwardWidth: 48, contextLength: 64)
        let model = LlamaModel(c, rng: &rng)
        for (_, p) in model.namedParameters {
            p.value = p.value.rank == 1 ? rng.uniform(shape: p.shape, low: 0.6, high: 1.4) : rng.normal(shape: p.shape, std: 0.25)
        }
        return model
    }

    static func writeText(_ dir: String) throws -> String {
        let words = ["the", "model", "token", "of", "a", "tiny", "llama", "runs", "and", "writes", "every", "block"]
        var rng = RandomGenerator(seed: 12)
        let text = (0..<60).map { _ in (0..<8).map { _ in words[Int(rng.nextUniform() * Float(words.count)) % words.count] }.joined(separator: " ") }
            .joined(separator: "\n")
        let path = dir + "/text.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func options(_ data: String, losses: [DistillPass.Loss], steps: Int, cache: String? = nil, topK: Int = 16) -> DistillPass {
        var training = TrainingOptions(data: data, steps: steps)
        training.batchSize = 4
        training.learningRate = 3e-3
        var options = DistillPass(losses: losses, training: training)
        options.sequenceLength = 32
        options.teacherTopK = topK
        options.teacherCache = cache
        return options
    }

    /// A student that is its teacher with the vocabulary renumbered (reversed byte order, the
    /// embedding and head rows permuted to match) predicts exactly the teacher's distributions:
    /// the first loss is 0 when the ids are mapped by token, and far from it when they are not.
    @Test func aRenumberedVocabularyMapsByToken() throws {
        try withTemporaryDirectory { dir in
            let data = try Self.writeText(dir)
            let teacher = Self.llama(seed: 31)
            let student = Self.llama(seed: 31)
            let reversed = Array((0..<256).reversed())
            for weight in [student.tokenEmbedding.weight] + (student.head.map { [$0.weight] } ?? []) {
                let w = weight.value, d = w.shape[1]
                weight.value = Tensor(shape: w.shape, scalars: reversed.flatMap { w.scalars[($0 * d)..<(($0 + 1) * d)] })
            }
            let teacherModel = EvaluatedModel(.llama(teacher), input: .byteLevelBPE(try Self.byteTokenizer(order: Array(0..<256))))
            let studentModel = EvaluatedModel(.llama(student), input: .byteLevelBPE(try Self.byteTokenizer(order: reversed)))
            var pass = DistillationPass(options: Self.options(data, losses: [.init(kind: .logitKL)], steps: 1), seed: 1)
            pass.loop.learningRate = 0
            let result = try pass.run(model: studentModel, teachers: [.init(model: teacherModel)])
            #expect(result.training.losses.count == 1 && result.training.losses[0] < 1e-5, "loss \(result.training.losses)")
            // The same student against a teacher whose tokens are numbered the student's way is far off.
            let mismatched = EvaluatedModel(.llama(Self.llama(seed: 31)), input: .byteLevelBPE(try Self.byteTokenizer(order: reversed)))
            let far = try pass.run(model: studentModel, teachers: [.init(model: mismatched)])
            #expect(far.training.losses[0] > 0.1, "loss \(far.training.losses)")
        }
    }

    /// A 1-layer student from other weights learns a 2-layer teacher: forward and reverse KL and
    /// the task loss fall, and the teacher cache written by the first run is read by a second,
    /// which then trains to the same bits; a cache of another k is refused, naming the field.
    @Test func aStudentLearnsItsTeacherAndTheCacheIsReused() throws {
        try withTemporaryDirectory { dir in
            let data = try Self.writeText(dir)
            let tokenizer = try Self.byteTokenizer(order: Array(0..<256))
            let teacher = EvaluatedModel(.llama(Self.llama(seed: 41)), input: .byteLevelBPE(tokenizer))
            let losses: [DistillPass.Loss] = [.init(kind: .logitKL), .init(kind: .reverseKL, weight: 0.5), .init(kind: .task, weight: 0.1)]
            let cache = dir + "/teacher.h5"
            var lines: [String] = []
            func run() throws -> DistillationPass.Result {
                let student = EvaluatedModel(.llama(Self.llama(seed: 42, layers: 1)), input: .byteLevelBPE(tokenizer))
                var pass = DistillationPass(options: Self.options(data, losses: losses, steps: 120, cache: cache), seed: 1)
                pass.log = { lines.append($0) }
                return try pass.run(model: student, teachers: [.init(model: teacher)])
            }
            let first = try run()
            let l = first.training.losses
            let (start, end) = (l.prefix(5).reduce(0, +) / 5, l.suffix(5).reduce(0, +) / 5)
            #expect(end < 0.6 * start, "loss \(start) → \(end)")
            #expect(FileManager.default.fileExists(atPath: cache))
            #expect(first.teacherTopKBytes.map { $0 > 0 } == true)
            #expect(lines.contains { $0.contains("0 cached") }, "\(lines)")
            lines = []
            let second = try run()
            #expect(lines.contains { $0.contains(", 0 to compute") }, "\(lines)")
            #expect(second.training.losses.map(\.bitPattern) == l.map(\.bitPattern))

            var other = DistillationPass(options: Self.options(data, losses: losses, steps: 2, cache: cache, topK: 8), seed: 1)
            other.log = { _ in }
            let student = EvaluatedModel(.llama(Self.llama(seed: 42, layers: 1)), input: .byteLevelBPE(tokenizer))
            let error = #expect(throws: TrainingError.self) { try other.run(model: student, teachers: [.init(model: teacher)]) }
            #expect(error.map { "\($0)" }?.contains("nanoforge.teacher_cache.top_k") == true, "\(String(describing: error))")
        }
    }
}
