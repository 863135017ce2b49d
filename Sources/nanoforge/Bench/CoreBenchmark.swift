import Foundation
import NanoForge
import NanoModels
import NanoTensor

/// `bench core`: sgemm throughput against numpy, and one training step of the reference decoder
/// against PyTorch CPU, each measured in the same run (docs/benchmarks.md).
struct CoreBenchmark {
    let python: String
    let torchPython: String
    let threads: Int

    /// The reference decoder of the issue: 4 layers, d_model 256, 4 heads, ff 1024, vocab 512.
    static let decoder = GPTDecoder.Configuration(
        vocabularySize: 512, contextLength: 128, width: 256, layers: 4, heads: 4, feedForwardWidth: 1024,
        activation: .geluTanh)
    static let batch = 16, length = 128

    func run() throws -> [String: Any] {
        Parallel.workers = threads
        print("nanoforge bench core — \(threads) threads")

        // sgemm
        let numpy = BenchmarkOutput.runReference(python, "bench/reference/numpy_sgemm.py", [], threads: threads)
        let numpyRows = (numpy?["sgemm"] as? [[String: Any]]) ?? []
        var sgemmRows: [[String: Any]] = []
        print("\nsgemm (C = A·B, square, Float32)")
        print("     n   nanoforge GFLOP/s   numpy GFLOP/s   ratio")
        for n in [256, 1024, 2048] {
            let ours = sgemmGFLOPS(n)
            let ref = numpyRows.first { ($0["n"] as? Int) == n }?["gflops"] as? Double
            let ratio = ref.map { ours / $0 }
            print(String(format: "%6d   %17.1f   ", n, ours) + BenchmarkOutput.pad(BenchmarkOutput.format(ref), 13)
                  + "   " + BenchmarkOutput.pad(BenchmarkOutput.format(ratio, 2), 5))
            var row: [String: Any] = ["n": n, "gflops": ours]
            row["numpy_gflops"] = ref ?? NSNull()
            row["ratio"] = ratio ?? NSNull()
            sgemmRows.append(row)
        }

        // training step
        let ours = trainStepMilliseconds()
        let torch = BenchmarkOutput.runReference(torchPython, "bench/reference/torch_train_step.py",
                                                 ["--threads", String(threads)], threads: threads)
        let torchMs = torch?["ms"] as? Double
        let ratio = torchMs.map { ours / $0 }
        print("\ntraining step (forward, backward, AdamW): decoder 4×256, ff 1024, vocab 512, batch 16 × 128")
        print("  nanoforge \(BenchmarkOutput.format(ours)) ms   PyTorch \(BenchmarkOutput.format(torchMs)) ms   ratio \(BenchmarkOutput.format(ratio, 2))")
        var step: [String: Any] = ["ms": ours, "threads": threads]
        step["torch_ms"] = torchMs ?? NSNull()
        step["ratio"] = ratio ?? NSNull()
        if let v = torch?["torch"] { step["torch_version"] = v }
        return ["sgemm": sgemmRows, "train_step": step, "machine": machineDescription()]
    }

    func sgemmGFLOPS(_ n: Int) -> Double {
        var rng = RandomGenerator(seed: 1)
        let a = rng.normal(shape: [n, n]), b = rng.normal(shape: [n, n])
        let flops = 2 * Double(n) * Double(n) * Double(n)
        let repeats = max(5, min(200, Int(2e10 / flops)))
        var sink: Float = 0
        let ms = Measurement.medianMilliseconds(repeats: repeats, warmup: 2) {
            sink += Tensor.matmul(a, b).scalars[0]
        }
        _ = sink
        return flops / (ms / 1000) / 1e9
    }

    func trainStepMilliseconds() -> Double {
        var rng = RandomGenerator(seed: 2)
        let model = GPTDecoder(Self.decoder, rng: &rng)
        let optimizer = AdamW(learningRate: 3e-4)
        let count = Self.batch * Self.length
        let inputs = (0..<count).map { _ in rng.nextInt(below: Self.decoder.vocabularySize) }
        let targets = (0..<count).map { _ in rng.nextInt(below: Self.decoder.vocabularySize) }
        return Measurement.medianMilliseconds(repeats: 10, warmup: 3) {
            let tape = Tape()
            let logits = model(inputs, batch: Self.batch, length: Self.length, tape: tape)
            let loss = Loss.crossEntropy(logits, targets: targets, tape: tape)
            model.zeroGradients()
            tape.backward(from: loss)
            optimizer.step(model.parameters)
        }
    }

    func machineDescription() -> [String: Any] {
        ["cores": ProcessInfo.processInfo.activeProcessorCount,
         "memory_gib": Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824]
    }
}
