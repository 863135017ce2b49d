import Foundation

/// The rows `report.md` and `report.html` show for a `mixed_precision` stage: a summary line, the
/// applied frontier points (predicted against measured loss), the prediction checks and, with ggml
/// types, the type chosen for each layer.
enum MixedPrecisionTables {
    /// One sentence: the budget, what the loss is, and the chosen point's size and losses.
    static func summary(_ mp: MixedPrecisionReport) -> String {
        let loss = mp.loss.map { "\($0) (mean KL divergence to the model before the stage, nats per token) on \(mp.sensitivityTokens ?? 0) scored calibration tokens in \(mp.sensitivityInputs) chunks" }
            ?? "1 − cosine_mean against the model before the stage on \(mp.sensitivityInputs) calibration inputs"
        var s = "Budget \(mp.budget); loss = \(loss). Chosen: predicted \(String(format: "%.5f", mp.chosen.predictedLoss)), measured "
            + (mp.chosen.measuredLoss.map { String(format: "%.5f", $0) } ?? "–")
            + String(format: ", %.2f bits per selected weight", mp.chosen.averageBits)
        if let bytes = mp.chosen.modelBytes, let bpw = mp.chosen.modelBitsPerWeight {
            s += String(format: "; the model %.2f MB, %.3f bits per parameter", Double(bytes) / 1e6, bpw)
        }
        if let counts = mp.chosen.typeCounts { s += " (" + typeCounts(counts) + ")" }
        return s + "."
    }

    static func typeCounts(_ counts: [String: Int]) -> String {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.value)×\($0.key)" }.joined(separator: ", ")
    }

    static let appliedHeader = ["selected bytes", "model MB", "bits/parameter", "predicted loss", "measured loss", "types"]

    /// The frontier points that were applied and measured, by size.
    static func appliedRows(_ mp: MixedPrecisionReport) -> [[String]] {
        mp.frontier.filter { $0.measuredLoss != nil }.map { p in
            [String(p.bytes), p.modelBytes.map { String(format: "%.2f", Double($0) / 1e6) } ?? "–",
             p.modelBitsPerWeight.map { String(format: "%.3f", $0) } ?? String(format: "%.2f", p.averageBits),
             String(format: "%.5f", p.predictedLoss), p.measuredLoss.map { String(format: "%.5f", $0) } ?? "–",
             p.typeCounts.map(typeCounts) ?? "–"]
        }
    }

    static let checkHeader = ["layer", "type", "predicted loss", "measured loss"]

    static func checkRows(_ mp: MixedPrecisionReport) -> [[String]] {
        (mp.predictionChecks ?? []).map { [$0.layer, $0.type, String(format: "%.6f", $0.predictedLoss), String(format: "%.6f", $0.measuredLoss)] }
    }

    static let choiceHeader = ["layer", "type", "bytes", "loss", "measured", "weight error", "dropped types"]

    /// Each layer's chosen ggml type with its bytes and loss (empty for bit widths).
    static func choiceRows(_ mp: MixedPrecisionReport) -> [[String]] {
        guard let choice = mp.typeChoice else { return [] }
        return mp.sensitivities.compactMap { s in
            guard let type = choice[s.layer], let i = s.types?.firstIndex(of: type) else { return nil }
            return [s.layer, type, String(s.bytes[i]), String(format: "%.6f", s.loss[i]), s.measured?[i] == false ? "predicted" : "measured",
                    s.relativeErrors.map { String(format: "%.4f", $0[i]) } ?? "–", s.dropped?.joined(separator: ", ") ?? ""]
        }
    }

    /// The section of `report.md`.
    static func markdown(_ mp: MixedPrecisionReport) -> String {
        var s = "\n## Mixed precision\n\n" + summary(mp) + "\n\n"
        s += ReportFormat.markdownTable(header: appliedHeader, rows: appliedRows(mp))
        let checks = checkRows(mp)
        if !checks.isEmpty { s += "\nPredicted losses measured alone:\n\n" + ReportFormat.markdownTable(header: checkHeader, rows: checks) }
        let choices = choiceRows(mp)
        if !choices.isEmpty { s += "\nChosen types:\n\n" + ReportFormat.markdownTable(header: choiceHeader, rows: choices) }
        return s
    }

    /// The tables of `report.html` (after the summary and the charts).
    static func html(_ mp: MixedPrecisionReport) -> String {
        var s = "<h3>Applied points</h3>\n" + ReportFormat.htmlTable(header: appliedHeader, rows: appliedRows(mp), className: "mixed")
        let checks = checkRows(mp)
        if !checks.isEmpty {
            s += "<h3>Predicted losses measured alone</h3>\n" + ReportFormat.htmlTable(header: checkHeader, rows: checks, className: "mixed")
        }
        let choices = choiceRows(mp)
        if !choices.isEmpty { s += "<h3>Chosen types</h3>\n" + ReportFormat.htmlTable(header: choiceHeader, rows: choices, className: "mixed") }
        return s
    }
}
