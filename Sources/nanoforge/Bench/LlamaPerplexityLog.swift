import Foundation

/// The figures `llama-perplexity` prints at the end of a run (its log, timestamps and all):
/// `Final estimate: PPL = …` for a plain or `--kl-divergence-base` run, and the "Perplexity",
/// "KL divergence" and "Token probability" statistics blocks of a `--kl-divergence` run.
struct LlamaPerplexityLog {
    /// The model's perplexity on the scored tokens (`Mean PPL(Q)`, or the final estimate).
    var perplexity: Double
    var klMean: Double?
    var klMedian: Double?
    var klP99: Double?
    var klMax: Double?
    /// Percent of scored tokens whose most likely next token is the reference's (`Same top p`).
    var sameTopPercent: Double?

    /// Parses `text`; throws naming `file` when the perplexity (or, with `kl`, a KL figure) is missing.
    init(text: String, file: String, kl: Bool) throws {
        // Runs of spaces collapsed, so a key matches however the tool aligns its columns.
        let lines = text.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        /// The number right after `key` (which ends in its ":" or "=") on the last line that holds it.
        func value(_ key: String) -> Double? {
            guard let line = lines.last(where: { $0.contains(key) }), let range = line.range(of: key) else { return nil }
            let rest = line[range.upperBound...].drop { $0 == " " }
            return Double(rest.prefix { $0.isNumber || $0 == "-" || $0 == "." || $0 == "e" || $0 == "+" })
        }
        guard let ppl = kl ? value("Mean PPL(Q) :") : value("Final estimate: PPL =") else {
            throw CLIErrors.BadInput("\(file): no perplexity in llama-perplexity's output")
        }
        perplexity = ppl
        guard kl else { return }
        klMean = value("Mean KLD:")
        klMedian = value("Median KLD:")
        klP99 = value("99.0% KLD:")
        klMax = value("Maximum KLD:")
        sameTopPercent = value("Same top p:")
        guard klMean != nil, klP99 != nil, sameTopPercent != nil else {
            throw CLIErrors.BadInput("\(file): no KL divergence statistics (Mean KLD, 99.0% KLD, Same top p) in llama-perplexity's output")
        }
    }

    /// The figures as a benchmark row's `score`; the same keys as `nanoforge eval --task kl_divergence`.
    var json: [String: Any] {
        var row: [String: Any] = ["perplexity": perplexity]
        if let klMean { row["kl_mean"] = klMean }
        if let klMedian { row["kl_median"] = klMedian }
        if let klP99 { row["kl_p99"] = klP99 }
        if let klMax { row["kl_max"] = klMax }
        if let sameTopPercent { row["same_top"] = sameTopPercent / 100 }
        return row
    }
}
