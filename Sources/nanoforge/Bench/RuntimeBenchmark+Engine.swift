import Foundation
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor

/// The pieces of `bench runtime` that run inside one process: the shared inputs, our engine on
/// one packed model (run in a child process for its own peak RSS), and the kernel rates.
extension RuntimeBenchmark {
    /// Token sequences of exactly `length` ids: [CLS], the word pieces of consecutive sentences
    /// (cut to fit), [SEP]. `singles` sequences for batch 1, `batches` groups of 32.
    static func inputs(tokenizer: WordPieceTokenizer, sentences path: String) throws -> (batch1: [[Int]], batch32: [[[Int]]]) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIErrors.BadInput("\(path): cannot read (run `make setup`)")
        }
        var pieces: [Int] = []
        var sequences: [[Int]] = []
        let needed = singles + 32 * batches
        for line in text.split(whereSeparator: \.isNewline) where sequences.count < needed {
            // encode adds [CLS] … [SEP]; keep the word pieces only.
            pieces += tokenizer.encode(String(line), maxLength: 512).dropFirst().dropLast()
            while pieces.count >= length - 2 && sequences.count < needed {
                sequences.append([tokenizer.classifyId] + pieces.prefix(length - 2) + [tokenizer.separatorId])
                pieces.removeFirst(length - 2)
            }
        }
        guard sequences.count == needed else { throw CLIErrors.BadInput("\(path): too little text for \(needed) sequences of \(length) tokens") }
        let batch32 = (0..<batches).map { b in Array(sequences[(singles + 32 * b)..<(singles + 32 * (b + 1))]) }
        return (Array(sequences.prefix(singles)), batch32)
    }

    static func writeInputs(_ inputs: (batch1: [[Int]], batch32: [[[Int]]]), to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: ["batch1": inputs.batch1, "batch32": inputs.batch32])
        try data.write(to: URL(fileURLWithPath: path))
    }

    static func readInputs(_ path: String) throws -> (batch1: [[Int]], batch32: [[[Int]]]) {
        guard let data = FileManager.default.contents(atPath: path),
              let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let b1 = json["batch1"] as? [[Int]], let b32 = json["batch32"] as? [[[Int]]] else {
            throw CLIErrors.BadInput("\(path): not a bench runtime inputs file")
        }
        return (b1, b32)
    }

    /// Our runtime on one model: load time, median latencies, a per-op profile (one extra pass
    /// at each batch size, not timed), peak RSS of this process. Printed as JSON by the child.
    static func engine(model: String, kernel: RuntimeKernel, inputs path: String, threads: Int) throws -> [String: Any] {
        Parallel.workers = threads
        let inputs = try readInputs(path)
        let encoder = try RuntimeEncoder.load(path: model, maxLength: length, kernel: kernel)
        let loadMs = encoder.loadSeconds * 1000
        func median(_ samples: [[[Int]]], warmup: Int) -> Double {
            for s in samples.prefix(warmup) { _ = encoder.embeddings(tokenIds: s) }
            var times: [Double] = []
            for s in samples {
                let start = ContinuousClock.now
                _ = encoder.embeddings(tokenIds: s)
                times.append((ContinuousClock.now - start).seconds * 1000)
            }
            return Measurement.median(times)
        }
        let b1 = median(inputs.batch1.map { [$0] }, warmup: 3)
        let b32 = median(inputs.batch32, warmup: 1)
        var profiles: [String: Any] = [:]
        for (name, sample) in [("batch1", [inputs.batch1[0]]), ("batch32", inputs.batch32[0])] {
            encoder.profile.reset(); encoder.profile.enabled = true
            _ = encoder.embeddings(tokenIds: sample)
            encoder.profile.enabled = false
            profiles[name] = encoder.profile.seconds.mapValues { $0 * 1000 }
        }
        let first = encoder.embeddings(tokenIds: [inputs.batch1[0]])
        return ["load_ms": loadMs, "batch1_ms": b1, "batch32_ms": b32, "profile_ms": profiles, "kernel": kernel.rawValue, "kernels": KernelSet.current.name,
                "peak_rss_mb": Double(Measurement.peakMemoryBytes() ?? 0) / 1_048_576, "threads": threads,
                "embedding0": first.scalars.map(Double.init)]
    }

    static func printKernelRates(_ kernels: [[String: Any]]) {
        print("\nkernels on [m, 384] × [1536, 384]ᵀ (GFLOP/s = 2·m·n·k / time)")
        for row in kernels {
            print("  m \(BenchmarkOutput.pad(String(row["m"] as! Int), 4))  " + BenchmarkOutput.padRight(row["kernel"] as! String, 32)
                  + BenchmarkOutput.pad(BenchmarkOutput.format(row["gflops"] as? Double, 1), 8) + " GFLOP/s")
        }
    }

    /// GFLOP/s (2·m·n·k per call) of each Linear kernel on MiniLM's feed-forward shape
    /// [m, 384] × [1536, 384]ᵀ, at m = 64 (one sentence) and 2048 (32 sentences), with fp32
    /// sgemm on the same shape as the ceiling, and a 2:4 weight run dense and by the zero-skipping
    /// kernel (GFLOP/s counted as dense: the same work done). Random weights, RTN-quantized.
    static func kernelRates(threads: Int) throws -> [[String: Any]] {
        Parallel.workers = threads
        var rng = RandomGenerator(seed: 1)
        let (n, k) = (1536, 384)
        let weight = rng.normal(shape: [n, k], std: 0.05)
        let int8 = PackedWeight(try RTN.quantize(weight, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)))
        let int4 = PackedWeight(try RTN.quantize(weight, scheme: QuantizationScheme(bits: 4, symmetric: true, granularity: .group(128))))
        let set = KernelSet.current
        var layers: [(String, RuntimeLinear, RuntimeKernel)] = [
            ("int8 dequant + sgemm", RuntimeLinear(name: "int8", weight: .packed(int8, nil), bias: nil, input: nil), .dequant),
            ("int4 g128 dequant + sgemm", RuntimeLinear(name: "int4", weight: .packed(int4, nil), bias: nil, input: nil), .dequant),
            ("int8×int8→int32 [\(set)]", RuntimeLinear(name: "int8", weight: .packed(int8, Int8GEMM(int8, kernels: set)), bias: nil, input: nil), .integer),
            ("u8×s8→int32 7-bit [\(set)]", RuntimeLinear(name: "int8", weight: .packed(int8, U8S8GEMM(int8, kernels: set)), bias: nil, input: nil), .u8s8),
            ("fp32 sgemm (ceiling)", RuntimeLinear(name: "fp32", weight: .dense(weight), bias: nil, input: nil), .dequant),
        ]
        // The integer kernels on the AVX2 baseline too, where this run uses another set.
        if set != .avx2 {
            layers.insert(contentsOf: [
                ("int8×int8→int32 [avx2]", RuntimeLinear(name: "int8", weight: .packed(int8, Int8GEMM(int8, kernels: .avx2)), bias: nil, input: nil), .integer),
                ("u8×s8→int32 7-bit [avx2]", RuntimeLinear(name: "int8", weight: .packed(int8, U8S8GEMM(int8, kernels: .avx2)), bias: nil, input: nil), .u8s8),
            ], at: 4)
        }
        // 2:4: the largest 2 of every 4 weights kept, int8; dense (dequant + sgemm) against skipping the zeros.
        var pruned = weight.scalars
        for g in stride(from: 0, to: pruned.count, by: 4) {
            let order = (g..<(g + 4)).sorted { abs(pruned[$0]) < abs(pruned[$1]) }
            pruned[order[0]] = 0; pruned[order[1]] = 0
        }
        let sparse = PackedWeight(try RTN.quantize(Tensor(shape: [n, k], scalars: pruned),
                                                   scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)))
        guard let skipping = Sparse24Linear(sparse) else { throw CLIErrors.BadInput("2:4 kernel rejected a 2:4 weight") }
        let sparseDense = RuntimeLinear(name: "2:4", weight: .packed(sparse, nil), bias: nil, input: nil)
        var rows: [[String: Any]] = []
        for m in [64, 2048] {
            let x = rng.normal(shape: [m, k])
            func add(_ name: String, _ body: () -> Void) {
                let ms = Measurement.medianMilliseconds(repeats: m == 64 ? 50 : 8, warmup: 2, body)
                rows.append(["kernel": name, "m": m, "n": n, "k": k, "ms": ms, "gflops": 2 * Double(m * n * k) / ms / 1e6])
            }
            for (name, layer, kernel) in layers { add(name) { _ = layer(x, kernel: kernel) } }
            add("int8 2:4 dense (dequant + sgemm)") { _ = sparseDense(x, kernel: .dequant) }
            var out = [Float](repeating: 0, count: m * n)
            add("int8 2:4 skipping zeros") {
                x.scalars.withUnsafeBufferPointer { px in skipping.forward(px.baseAddress!, m: m, bias: nil, out: &out) }
            }
        }
        return rows
    }
}
