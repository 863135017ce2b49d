import Foundation
import NanoCheckpoint
import NanoExport
import NanoTensor

/// `bench llm-quant`: nanoforge's quantized GGUF files side by side with llama.cpp's
/// `llama-quantize` on the same model, texts and scorer. The reference is the source GGUF
/// dequantized to F32 (`GGUFRequantizer`); every candidate file is scored by `llama-perplexity
/// --kl-divergence` against the reference's logits on the evaluation text (mean, median, p99 and
/// max KL, same top token, perplexity). llama.cpp's rows are `llama-quantize` from the reference
/// to each of `llamaTypes`, without and with an importance matrix from `llama-imatrix` on the
/// calibration text. nanoforge's rows are recipes run by `nanoforge compress` (and exported by
/// `nanoforge export --format gguf` unless the output folder already holds a .gguf) or GGUF files
/// made elsewhere; each is set against llama.cpp's files of equal or larger size (`comparison`:
/// at its size point, and against any larger file; goal: ratio ≤ 0.7). Packed recipes (nanoforge's own int4/int3/int2 format, which
/// llama.cpp cannot load) are scored by `nanoforge eval --task kl_divergence` on the same chunks
/// and set against Q3_K_M with an importance matrix. Every tool runs as a child process: wall
/// time and peak RSS come from `wait4` (`MeasuredProcess`), the logs stay in `workDir`.
struct LLMQuantBenchmark {
    let model: String
    /// Folder with llama-quantize, llama-imatrix and llama-perplexity (scripts/interop/build_llama_cpp.sh).
    let llamaCpp: String
    /// The nanoforge executable that runs the recipes.
    let nanoforge: String
    let ggufRecipes: [String]
    /// `LABEL=PATH` GGUF files made outside the bench.
    let ggufFiles: [String]
    let packedRecipes: [String]
    /// `LABEL=FOLDER` packed models compressed outside the bench (scored only).
    var packedFolders: [String] = []
    let pydocSentences: String
    let bible: String
    /// Evaluation chunks of 512 tokens, the first ones of the text (nil: all 98).
    let chunks: Int?
    let threads: Int
    let workDir: String
    /// Reuse what an interrupted run left in `workDir`: the reference, its logits, the imatrix and
    /// finished scores (files are re-quantized and timed; only the scoring is skipped).
    var resume = false

    /// llama-quantize's types, in the order of the table; Q4_1 is the source's own linear format.
    static let llamaTypes = ["Q4_0", "Q3_K_M", "Q2_K", "Q4_K_M", "Q4_1"]
    static let context = 512
    static let goalRatio = 0.7

    /// Runs the suite. With `previous` (an earlier run's `llm_quant` object whose reference
    /// logits are still in `workDir`), its reference, imatrix and llama.cpp rows are kept and only
    /// nanoforge's rows are made; they replace earlier rows of the same label, the others stay.
    func run(previous: [String: Any]? = nil) throws -> [String: Any] {
        print("nanoforge bench llm-quant — \(threads) threads, \(model), llama.cpp tools in \(llamaCpp), work folder \(workDir)")
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        for tool in ["llama-quantize", "llama-imatrix", "llama-perplexity"] where !FileManager.default.isExecutableFile(atPath: llamaCpp + "/" + tool) {
            throw CLIErrors.BadInput("\(llamaCpp)/\(tool) is missing: run scripts/interop/build_llama_cpp.sh")
        }
        let texts = try LLMQuantTexts.write(pydocSentences: pydocSentences, bible: bible, into: workDir)
        var result: [String: Any]
        if let previous {
            let chunksBefore = (previous["texts"] as? [String: Any])?["chunks"] as? Int
            guard previous["model"] as? String == model, chunks == nil || chunksBefore == chunks,
                  FileManager.default.fileExists(atPath: workDir + "/reference.kld"), previous["llama_cpp_rows"] is [[String: Any]] else {
                throw CLIErrors.BadInput("--keep-llama-cpp: the earlier results are for another model or chunk count, or \(workDir)/reference.kld is gone; run without it")
            }
            print("  keeping the reference, imatrix and llama.cpp rows of the earlier run")
            result = previous
        } else {
            result = try llamaCppSide(texts: texts)
        }
        let llamaRows = result["llama_cpp_rows"] as? [[String: Any]] ?? []
        let reference = workDir + "/reference-f32.gguf"
        let referencePerplexity = (result["reference"] as? [String: Any])?["perplexity"] as? Double ?? .nan

        var ours: [[String: Any]] = []
        for recipe in ggufRecipes {
            let (folder, compress) = try compress(recipe)
            var steps = [("nanoforge compress", compress)]
            var gguf = try FileManager.default.contentsOfDirectory(atPath: folder).first { $0.hasSuffix(".gguf") }.map { folder + "/" + $0 }
            if gguf == nil {
                let path = workDir + "/nanoforge-\(name(of: recipe)).gguf"
                steps.append(("nanoforge export", try MeasuredProcess.run(nanoforge, ["export", folder, "--format", "gguf", "--output", path],
                                                                           log: workDir + "/nanoforge-\(name(of: recipe))-export.log")))
                gguf = path
            }
            var row = try scored(gguf!, label: "nanoforge \(name(of: recipe))", steps: steps)
            row["recipe"] = recipe
            ours.append(row)
        }
        for entry in ggufFiles {
            guard let equals = entry.firstIndex(of: "=") else { throw CLIErrors.BadInput("--gguf \(entry): expected LABEL=PATH") }
            let path = String(entry[entry.index(after: equals)...])
            guard FileManager.default.fileExists(atPath: path) else { throw CLIErrors.BadInput("--gguf \(entry): \(path) does not exist") }
            ours.append(try scored(path, label: "nanoforge " + entry[..<equals], steps: []))
        }
        for i in ours.indices { ours[i].merge(comparison(ours[i], llamaRows)) { $1 }; printRow(ours[i]) }

        var packed: [[String: Any]] = []
        let anchor = llamaRows.first { $0["type"] as? String == "Q3_K_M" && $0["imatrix"] as? Bool == true }
        let packedInputs = try packedRecipes.map { ($0, Optional<String>.none) } + packedFolders.map { entry -> (String, String?) in
            guard let equals = entry.firstIndex(of: "=") else { throw CLIErrors.BadInput("--packed \(entry): expected LABEL=FOLDER") }
            return (String(entry[..<equals]), String(entry[entry.index(after: equals)...]))
        }
        for (recipe, folder) in packedInputs {
            var row = try packedRow(recipe, folder: folder, reference: reference, evaluation: texts.evaluation, referencePerplexity: referencePerplexity)
            if let a = anchor, let ak = a["kl_mean"] as? Double, let k = row["kl_mean"] as? Double {
                row["compared_with"] = a["label"]
                row["kl_mean_ratio"] = k / ak
            }
            packed.append(row)
            printRow(row)
        }

        func merged(_ old: Any?, _ new: [[String: Any]]) -> [[String: Any]] {
            let labels = Set(new.compactMap { $0["label"] as? String })
            return (old as? [[String: Any]] ?? []).filter { !labels.contains($0["label"] as? String ?? "") } + new
        }
        // Rows kept from an earlier run are compared again by today's rule.
        result["nanoforge_rows"] = merged(result["nanoforge_rows"], ours).map { row in
            row.filter { !$0.key.hasPrefix("compared_with") && !$0.key.hasPrefix("kl_mean_ratio") && !$0.key.hasPrefix("meets_goal") }
                .merging(comparison(row, llamaRows)) { $1 }
        }
        result["packed_rows"] = merged(result["packed_rows"], packed)
        result["cpu"] = MeasuredProcess.cpuName()
        result["goal_kl_mean_ratio"] = Self.goalRatio
        return ["llm_quant": result]
    }

    /// The reference (F32, its perplexity and saved logits), the importance matrix and llama-quantize's rows.
    func llamaCppSide(texts: (calibration: String, evaluation: String)) throws -> [String: Any] {
        // The reference: every tensor of the source as F32.
        let reference = workDir + "/reference-f32.gguf"
        let start = ContinuousClock.now
        var referenceSeconds: Any = NSNull()
        if !(resume && FileManager.default.fileExists(atPath: reference)) {
            try GGUFRequantizer.requantize(input: model, to: reference, type: .f32)
            referenceSeconds = (ContinuousClock.now - start).seconds
        }
        let base = workDir + "/reference.kld"
        let baseRun = try reusing(workDir + "/reference-perplexity.log", kl: false, unless: !FileManager.default.fileExists(atPath: base)) {
            try perplexity(reference, arguments: ["--kl-divergence-base", base], log: "reference-perplexity.log")
        }
        let baseScore = try LlamaPerplexityLog(text: read(baseRun.log), file: baseRun.log, kl: false)
        let scoredChunks = chunkCount(baseRun.log)
        print("  reference \(reference): \(mb(size(reference))), perplexity \(String(format: "%.4f", baseScore.perplexity)) "
              + "over \(scoredChunks.map(String.init) ?? "?") chunks of \(Self.context) tokens, second halves scored (\(format(baseRun.seconds)) s)")

        let imatrix = workDir + "/imatrix.gguf"
        let imatrixRun = try reusing(workDir + "/imatrix.log", kl: nil, unless: !FileManager.default.fileExists(atPath: imatrix)) { try MeasuredProcess.run(llamaCpp + "/llama-imatrix",
            ["-m", reference, "-f", texts.calibration, "-o", imatrix, "-c", String(Self.context), "-t", String(threads)],
            log: workDir + "/imatrix.log") }
        print("  llama-imatrix on \(texts.calibration): \(format(imatrixRun.seconds)) s, peak \(mb(imatrixRun.peakRSSBytes))")

        var llamaRows: [[String: Any]] = []
        for type in Self.llamaTypes {
            for withImatrix in [false, true] {
                let name = type.lowercased() + (withImatrix ? "-imatrix" : "")
                let output = workDir + "/llama-\(name).gguf"
                let quantize = try MeasuredProcess.run(llamaCpp + "/llama-quantize",
                    (withImatrix ? ["--imatrix", imatrix] : []) + [reference, output, type, String(threads)],
                    log: workDir + "/llama-\(name)-quantize.log")
                var row = try scored(output, label: "llama.cpp \(type)" + (withImatrix ? " + imatrix" : ""), steps: [("llama-quantize", quantize)])
                row["type"] = type
                row["imatrix"] = withImatrix
                // Q4_1 is the source's own block type: its linears come back (nearly) unchanged,
                // so it measures the scorer's floor, not a quantizer, and anchors no comparison.
                row["anchor"] = type != "Q4_1"
                if type == "Q4_1" { row["note"] = "the source's linears are Q4_1: re-encoding them is (nearly) lossless" }
                llamaRows.append(row)
                printRow(row)
            }
        }

        let version: [String] = (try? read((llamaCpp as NSString).deletingLastPathComponent + "/VERSION"))?
            .split(separator: "\n").map(String.init) ?? []
        let chunkField: Any = scoredChunks ?? NSNull()
        let scoredTokens: Any = scoredChunks.map { $0 * Self.context / 2 } ?? NSNull()
        let textFields: [String: Any] = [
            "calibration": texts.calibration, "calibration_source": pydocSentences, "calibration_bytes": size(texts.calibration),
            "evaluation": texts.evaluation, "evaluation_source": bible + " (World English column)", "evaluation_bytes": size(texts.evaluation),
            "chunks": chunkField, "scored_tokens": scoredTokens, "context": Self.context]
        let referenceFields: [String: Any] = [
            "file": reference, "size_bytes": size(reference), "seconds": referenceSeconds, "perplexity": baseScore.perplexity,
            "perplexity_seconds": baseRun.secondsField]
        let imatrixFields: [String: Any] = ["file": imatrix, "seconds": imatrixRun.secondsField, "peak_rss_bytes": imatrixRun.peakRSSBytes]
        var result: [String: Any] = ["threads": threads, "model": model, "llama_cpp": version]
        result["texts"] = textFields
        result["reference"] = referenceFields
        result["imatrix"] = imatrixFields
        result["llama_cpp_rows"] = llamaRows
        return result
    }

    /// `body`'s run, or with `resume` the one an earlier run left in `log` when it is complete (a
    /// perplexity log that parses, with `kl` saying which kind; any log for nil) and `unless` is
    /// false; a reused run's time and memory are unknown (NaN, 0).
    func reusing(_ log: String, kl: Bool?, unless: Bool = false, _ body: () throws -> MeasuredProcess) throws -> MeasuredProcess {
        if resume, !unless, let text = try? read(log), kl.map({ (try? LlamaPerplexityLog(text: text, file: log, kl: $0)) != nil }) ?? true {
            print("  reusing \(log) (--resume)")
            return MeasuredProcess(seconds: .nan, peakRSSBytes: 0, log: log)
        }
        return try body()
    }

    /// A candidate GGUF's row: size, the steps that made it (wall time, peak RSS) and its score.
    func scored(_ file: String, label: String, steps: [(String, MeasuredProcess)]) throws -> [String: Any] {
        // Every nanoforge row's file is FOLDER/model.gguf: the folder names the log, so rows never
        // share one (nor reuse another's with --resume).
        let name = (file as NSString).lastPathComponent.replacingOccurrences(of: ".gguf", with: "")
        let slug = name == "model" ? ((file as NSString).deletingLastPathComponent as NSString).lastPathComponent : name
        let run = try reusing(workDir + "/\(slug)-kld.log", kl: true) {
            try perplexity(file, arguments: ["--kl-divergence-base", workDir + "/reference.kld", "--kl-divergence"], log: "\(slug)-kld.log")
        }
        let score = try LlamaPerplexityLog(text: read(run.log), file: run.log, kl: true)
        var row: [String: Any] = ["label": label, "file": file, "size_bytes": size(file),
                                  "seconds": steps.map(\.1.seconds).reduce(0, +), "peak_rss_bytes": steps.map(\.1.peakRSSBytes).max() ?? 0,
                                  "steps": steps.map { ["tool": $0.0, "seconds": $0.1.seconds, "peak_rss_bytes": $0.1.peakRSSBytes, "log": $0.1.log] }]
        row.merge(score.json) { $1 }
        return row
    }

    /// The llama.cpp anchors for a nanoforge row, two readings of "the better llama.cpp file of equal
    /// or larger size" (goal: ratio ≤ 0.7 for both):
    /// - at its size point: the llama.cpp type whose file is the smallest at least as large as ours,
    ///   the better (lower mean KL) of its files without and with the importance matrix
    ///   (`kl_mean_ratio`, `compared_with`);
    /// - against every llama.cpp file at least as large, the lowest mean KL among them
    ///   (`kl_mean_ratio_any_larger`, `compared_with_any_larger`): stricter, since a larger type
    ///   (Q4_K_M at 105.5 MB) then anchors every smaller point.
    func comparison(_ row: [String: Any], _ llama: [[String: Any]]) -> [String: Any] {
        guard let bytes = row["size_bytes"] as? Int, let kl = row["kl_mean"] as? Double else { return [:] }
        func klOf(_ r: [String: Any]) -> Double { r["kl_mean"] as? Double ?? .infinity }
        let candidates = llama.filter { ($0["anchor"] as? Bool ?? false) && ($0["size_bytes"] as? Int ?? 0) >= bytes }
        guard let best = candidates.min(by: { klOf($0) < klOf($1) }),
              let pointSize = candidates.compactMap({ $0["size_bytes"] as? Int }).min() else {
            return ["compared_with": "no llama.cpp file is as large"]
        }
        // The size point: the type of the smallest larger file (its imatrix twin may be a few KB larger).
        let pointType = candidates.first { $0["size_bytes"] as? Int == pointSize }?["type"] as? String
        let point = llama.filter { ($0["anchor"] as? Bool ?? false) && $0["type"] as? String == pointType }.min { klOf($0) < klOf($1) } ?? best
        return ["compared_with": point["label"] ?? "?", "kl_mean_ratio": kl / klOf(point), "meets_goal": kl / klOf(point) <= Self.goalRatio,
                "compared_with_any_larger": best["label"] ?? "?", "kl_mean_ratio_any_larger": kl / klOf(best),
                "meets_goal_any_larger": kl / klOf(best) <= Self.goalRatio]
    }

    /// `nanoforge compress RECIPE` into the work folder, measured.
    func compress(_ recipe: String) throws -> (String, MeasuredProcess) {
        let folder = workDir + "/nanoforge-\(name(of: recipe))"
        let run = try MeasuredProcess.run(nanoforge, ["compress", recipe, "--output", folder], log: folder + "-compress.log")
        return (folder, run)
    }

    /// A packed recipe's row: compress, then `nanoforge eval --task kl_divergence` on the same chunks.
    /// With `folder` (compressed elsewhere), `recipe` is the row's label and only the eval runs.
    func packedRow(_ recipe: String, folder given: String?, reference: String, evaluation: String, referencePerplexity: Double) throws -> [String: Any] {
        let compressed: (String, MeasuredProcess?) = try given.map { ($0, nil) } ?? compress(recipe)
        let (folder, compress) = compressed
        let log = workDir + "/nanoforge-\(name(of: recipe))-eval.log"
        let eval = try MeasuredProcess.run(nanoforge, ["eval", folder, "--task", "kl_divergence", "--reference", reference, "--data", evaluation,
                                                      "--context", String(Self.context), "--json"] + (chunks.map { ["--limit", String($0)] } ?? []),
                                           log: log)
        let text = try read(log)
        guard let open = text.firstIndex(of: "{"), let close = text.lastIndex(of: "}"),
              let metrics = try JSONSerialization.jsonObject(with: Data(text[open...close].utf8)) as? [String: Double] else {
            throw CLIErrors.BadInput("\(log): no JSON metrics from nanoforge eval")
        }
        let weights = folder + "/model.safetensors"
        var row: [String: Any] = ["label": "nanoforge \(name(of: recipe)) (packed)", "file": weights, "size_bytes": size(weights),
                                  "eval_seconds": eval.seconds, "scorer": "nanoforge eval --task kl_divergence"]
        if let compress {
            row["recipe"] = recipe
            row["seconds"] = compress.seconds
            row["peak_rss_bytes"] = compress.peakRSSBytes
        }
        for key in ["kl_mean", "kl_median", "kl_p99", "kl_max", "same_top"] { row[key] = metrics[key] }
        if let delta = metrics["delta_perplexity"] { row["perplexity"] = referencePerplexity + delta }
        return row
    }

    func perplexity(_ file: String, arguments: [String], log: String) throws -> MeasuredProcess {
        try MeasuredProcess.run(llamaCpp + "/llama-perplexity",
            ["-m", file, "-f", workDir + "/evaluation.txt", "-c", String(Self.context), "-t", String(threads)]
            + arguments + (chunks.map { ["--chunks", String($0)] } ?? []), log: workDir + "/" + log)
    }

    /// Chunks llama-perplexity scored, from its log.
    func chunkCount(_ log: String) -> Int? {
        guard let text = try? read(log),
              let line = text.split(separator: "\n").first(where: { $0.contains("calculating perplexity over") }) else { return nil }
        return line.split(separator: " ").drop(while: { $0 != "over" }).dropFirst().first.flatMap { Int($0) }
    }

    func printRow(_ row: [String: Any]) {
        var line = BenchmarkOutput.padRight(row["label"] as? String ?? "?", 34)
            + BenchmarkOutput.pad(mb(row["size_bytes"] as? Int ?? 0), 10)
            + "  KL mean " + String(format: "%.4f", row["kl_mean"] as? Double ?? .nan)
            + "  p99 " + String(format: "%.3f", row["kl_p99"] as? Double ?? .nan)
            + "  same top " + String(format: "%.1f %%", 100 * (row["same_top"] as? Double ?? .nan))
            + "  ppl " + String(format: "%.3f", row["perplexity"] as? Double ?? .nan)
            + "  " + BenchmarkOutput.format(row["seconds"] as? Double) + " s, peak " + mb(row["peak_rss_bytes"] as? Int ?? 0)
        if let ratio = row["kl_mean_ratio"] as? Double { line += String(format: "  KL ratio %.2f vs ", ratio) + (row["compared_with"] as? String ?? "?") }
        if let ratio = row["kl_mean_ratio_any_larger"] as? Double, row["compared_with_any_larger"] as? String != row["compared_with"] as? String {
            line += String(format: ", %.2f vs ", ratio) + (row["compared_with_any_larger"] as? String ?? "?")
        }
        print("  " + line)
    }

    func name(of recipe: String) -> String { ((recipe as NSString).lastPathComponent as NSString).deletingPathExtension }
    func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
    func size(_ path: String) -> Int { (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 }
    func mb(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
    func format(_ seconds: Double) -> String { String(format: "%.1f", seconds) }
}
