import Foundation
import NanoForge
import NanoModels
import NanoQuant
import NanoTensor

/// `bench distill`: the distillation step throughput of Recipes/minilm-nano.yaml's `distill`
/// stage (all-MiniLM-L6-v2 teacher, the 3-layer student of its layers 0, 2, 4, embedding cosine +
/// MSE) through nanoforge's real `DistillationPass`, against PyTorch on the same batches in the
/// same run. One step = teacher forward (no gradient) + student forward + backward + clipping +
/// AdamW, batch 32 sentences of the stage's own training text, sequences up to 256 tokens (as the
/// pipeline loads MiniLM). The batches are the training loop's own grouping, handed to PyTorch
/// as token ids so both pad to the same lengths.
struct DistillBenchmark {
    let recipe: String
    let torchPython: String
    let threads: Int
    static let maxLength = 256, batch = 32, warmup = 1, timed = 6

    final class Stamps { var times: [ContinuousClock.Instant] = [] }

    func run() throws -> [String: Any] {
        Parallel.workers = threads
        let r = try Recipe.load(contentsOf: recipe)
        guard var options = r.stages.compactMap({ $0.pass as? DistillPass }).first else { throw CLIErrors.BadInput("\(recipe): no distill stage") }
        print("nanoforge bench distill — \(threads) threads, teacher \(r.modelPath), student layers \(options.layers.map { "\($0)" } ?? "all"), batch \(Self.batch)")
        let teacher = try SentenceEncoder.load(path: r.modelPath, maxLength: Self.maxLength)
        let steps = Self.warmup + Self.timed
        let sentences = Array(try DistillationPass.sentences(options.training.data).prefix(steps * Self.batch))
        guard sentences.count == steps * Self.batch else { throw CLIErrors.BadInput("\(options.training.data): need \(steps * Self.batch) sentences") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-bench-distill-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try sentences.joined(separator: "\n").write(toFile: folder + "/sentences.txt", atomically: true, encoding: .utf8)

        // The loop's grouping of these sentences (one epoch = `steps` batches), as token ids.
        let tokens = sentences.map { teacher.tokenizer.encode($0, maxLength: Self.maxLength) }
        let groups = TrainingBatches(count: tokens.count, batchSize: Self.batch, lengths: tokens.map(\.count), seed: r.seed).epoch(0)
        let ids = groups.map { $0.map { tokens[$0] } }
        try JSONSerialization.data(withJSONObject: ids).write(to: URL(fileURLWithPath: folder + "/batches.json"))
        let padded = groups.dropFirst(Self.warmup).map { g in g.map { tokens[$0].count }.max() ?? 0 }

        options.training.data = folder + "/sentences.txt"
        // No warm-up: both sides follow the same cosine decay from the stage's learning rate.
        (options.training.steps, options.training.batchSize, options.training.warmup) = (steps, Self.batch, 0)
        (options.training.evalEvery, options.training.checkpointEvery) = (0, 0)
        // The step measured includes the teacher's forward pass, and the recipe's cache belongs
        // to the recipe's data file, not to these sentences.
        options.teacherCache = nil
        // The PyTorch reference builds its student by copying teacher layers; it does not
        // reproduce nanoforge's channel selection and projection for a narrower student, so both
        // sides time the recipe's layers at the teacher's width (the same computation, checked by
        // equal losses).
        (options.hidden, options.intermediate, options.heads) = (nil, nil, nil)
        var pass = DistillationPass(options: options, seed: r.seed)
        let stamps = Stamps()
        pass.progress = { _ in stamps.times.append(.now) }
        let model = EvaluatedModel.sentenceEncoder(teacher)
        let result = try pass.run(model: model, teachers: [DistillationPass.Teacher(model: model)])
        let stepMs = zip(stamps.times, stamps.times.dropFirst()).map { ($1 - $0).seconds * 1000 }.suffix(Self.timed)
        let ms = Measurement.median(Array(stepMs))

        let torch = BenchmarkOutput.runReference(torchPython, "bench/reference/torch_distill_step.py",
                                                 ["--model", r.modelPath, "--batches", folder + "/batches.json", "--layers",
                                                  (options.layers ?? []).map(String.init).joined(separator: ","),
                                                  "--threads", String(threads), "--warmup", String(Self.warmup),
                                                  "--learning-rate", String(options.training.learningRate)], threads: threads)
        let torchMs = torch?["ms"] as? Double
        let ours = Double(Self.batch) / (ms / 1000), theirs = torchMs.map { Double(Self.batch) / ($0 / 1000) }
        print("\ndistillation step, MiniLM → 3 layers (median of \(Self.timed) steps; padded lengths \(padded.min() ?? 0)…\(padded.max() ?? 0) tokens)")
        print("  nanoforge \(BenchmarkOutput.format(ms, 0)) ms = \(BenchmarkOutput.format(ours, 1)) sentences/s   PyTorch \(BenchmarkOutput.format(torchMs, 0)) ms = \(BenchmarkOutput.format(theirs, 1)) sentences/s   ratio (time) \(BenchmarkOutput.format(torchMs.map { ms / $0 }, 2))")
        print("  loss first/last: nanoforge \(BenchmarkOutput.format(Double(result.training.losses.first ?? .nan), 4))/\(BenchmarkOutput.format(Double(result.training.losses.last ?? .nan), 4))   PyTorch \(BenchmarkOutput.format(torch?["loss_first"] as? Double, 4))/\(BenchmarkOutput.format(torch?["loss_last"] as? Double, 4))")
        return ["distill_step": ["ms": ms, "sentences_per_second": ours, "torch_ms": torchMs ?? NSNull(),
                                 "torch_sentences_per_second": theirs ?? NSNull(), "ratio": torchMs.map { ms / $0 } ?? NSNull(),
                                 "batch": Self.batch, "timed_steps": Self.timed, "padded_lengths": padded, "threads": threads,
                                 "recipe": recipe, "loss_first": Double(result.training.losses.first ?? .nan),
                                 "torch_loss_first": torch?["loss_first"] ?? NSNull(), "torch_version": torch?["torch"] ?? NSNull()]]
    }
}
