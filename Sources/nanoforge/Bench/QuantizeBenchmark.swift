import Foundation
import NanoForge
import NanoTensor

/// `bench quantize`: the shipped int4 group-128 recipes on MiniLM, round-to-nearest and GPTQ, run
/// one after the other in this process with the same evaluation: GPTQ's stage time (Hessians
/// from 256 calibration sentences plus quantizing every Linear layer) and both methods' quality.
struct QuantizeBenchmark {
    let recipes: [String]
    let threads: Int

    func run() throws -> [String: Any] {
        Parallel.workers = threads
        print("nanoforge bench quantize — \(threads) threads, recipes \(recipes.joined(separator: ", "))")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-bench-quantize-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        var runs: [[String: Any]] = []
        for path in recipes {
            let recipe = try Recipe.load(contentsOf: path)
            let pipeline = Pipeline(recipe: recipe) { line in
                FileHandle.standardError.write(Data("  \(line)\n".utf8))
            }
            let report = try pipeline.run(outputDirectory: scratch + "/" + recipe.name)
            guard let base = report.stages.first, let last = report.stages.last, report.stages.count == 2 else {
                throw CLIErrors.BadInput("\(path): bench quantize expects a recipe with one quantize stage")
            }
            let method = recipe.stages.first.map { stage -> String in
                (stage.pass as? QuantizePass)?.method.rawValue ?? stage.key
            } ?? "?"
            runs.append(["recipe": path, "method": method, "stage_seconds": last.seconds,
                         "calibration_samples": recipe.calibration?.samples ?? 0, "layers": report.layers.filter { $0.bits != nil }.count,
                         "metrics": last.metrics, "baseline_metrics": base.metrics, "size_bytes": last.sizeBytes,
                         "peak_memory_bytes": last.peakMemoryBytes ?? 0])
        }
        print("\nMiniLM int4 group 128, same evaluation, same run")
        print("  method  stage s   cosine_mean  cosine_min  retrieval_top1  accuracy  size MB")
        for run in runs {
            let m = run["metrics"] as? [String: Double] ?? [:]
            print("  " + [run["method"] as? String ?? "?", String(format: "%7.1f", run["stage_seconds"] as? Double ?? 0),
                          String(format: "%11.4f", m["cosine_mean"] ?? .nan), String(format: "%10.4f", m["cosine_min"] ?? .nan),
                          String(format: "%14.4f", m["retrieval_top1"] ?? .nan), String(format: "%8.4f", m["accuracy"] ?? .nan),
                          String(format: "%7.1f", Double(run["size_bytes"] as? Int ?? 0) / 1e6)].joined(separator: "  "))
        }
        if let base = runs.first?["baseline_metrics"] as? [String: Double] {
            print("  fp32 baseline: retrieval_top1 \(String(format: "%.4f", base["retrieval_top1"] ?? .nan)), accuracy \(String(format: "%.4f", base["accuracy"] ?? .nan))")
        }
        return ["quantize_minilm_int4_g128": ["threads": threads, "runs": runs]]
    }
}
