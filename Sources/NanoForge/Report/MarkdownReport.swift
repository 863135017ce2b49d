/// `report.md`: the stages table (one row per stage: size, speed, memory, time), the metrics
/// table (one row per stage, one column per metric), the training table (training stages'
/// steps and loss at the start and end) and the per-layer table.
public enum MarkdownReport {
    public static func render(_ report: CompressionReport) -> String {
        var s = "# \(report.recipe)\n\nModel: `\(report.model)`\n\n"
        if let kernels = report.kernels { s += "Kernel set: `\(kernels)`\n\n" }
        s += "## Stages\n\n"
        s += ReportFormat.markdownTable(header: stageHeader(report), rows: stageRows(report))
        let keys = report.metricKeys
        if !keys.isEmpty {
            s += "\n## Metrics\n\n"
            s += ReportFormat.markdownTable(header: ["stage"] + keys, rows: metricRows(report, keys: keys))
        }
        let trained = report.stages.filter { $0.training != nil }
        if !trained.isEmpty {
            s += "\n## Training\n\n"
            s += ReportFormat.markdownTable(header: ["stage", "steps", "first loss", "final loss", "resumed from"], rows: trained.map(trainingRow))
        }
        if let mp = report.mixedPrecision { s += MixedPrecisionTables.markdown(mp) }
        s += "\n## Layers\n\n"
        if report.layers.isEmpty {
            s += "No per-layer details.\n"
        } else {
            s += ReportFormat.markdownTable(header: layerHeader, rows: report.layers.map(layerRow))
            if let note = ggmlFallbackNote(report.layers) { s += "\n" + note + "\n" }
        }
        return s
    }

    static let stageHeader = ["stage", "pass", "size", "parameters", "bits/weight", "sparsity", "latency b1 (ms)",
                              "latency b32 (ms)", "peak memory", "seconds"]

    /// The stage table's header: with "flash" and "RAM" (the C export's `model.h` figures) when a
    /// stage has a full-integer model.
    static func stageHeader(_ report: CompressionReport) -> [String] {
        hasMicrocontrollerFigures(report) ? stageHeader + ["flash (bytes)", "RAM (bytes)"] : stageHeader
    }

    static func stageRows(_ report: CompressionReport) -> [[String]] {
        let mcu = hasMicrocontrollerFigures(report)
        return report.stages.map { stage in
            stageRow(stage) + (mcu ? [stage.flashBytes.map(String.init) ?? "–", stage.ramBytes.map(String.init) ?? "–"] : [])
        }
    }

    static func hasMicrocontrollerFigures(_ report: CompressionReport) -> Bool {
        report.stages.contains { $0.flashBytes != nil || $0.ramBytes != nil }
    }

    static func stageRow(_ stage: StageReport) -> [String] {
        [stage.name, stage.pass ?? "–", ReportFormat.bytes(Double(stage.sizeBytes)), String(stage.parameters),
         String(format: "%.2f", stage.bitsPerWeight), ReportFormat.percent(stage.sparsity),
         ReportFormat.number(stage.latencyMs.batch1), ReportFormat.number(stage.latencyMs.batch32),
         stage.peakMemoryBytes.map { ReportFormat.bytes(Double($0)) } ?? "–", String(format: "%.2f", stage.seconds)]
    }

    static func metricRows(_ report: CompressionReport, keys: [String]) -> [[String]] {
        report.stages.map { stage in [stage.name] + keys.map { ReportFormat.number(stage.metrics[$0]) } }
    }

    static func trainingRow(_ stage: StageReport) -> [String] {
        let t = stage.training!
        return [stage.name, String(t.steps), String(format: "%.5f", t.firstLoss), String(format: "%.5f", t.finalLoss),
                t.resumedFrom.map(String.init) ?? "–"]
    }

    static let layerHeader = ["layer", "kind", "shape", "bits", "group", "ggml type", "sparsity", "weight error", "output error"]

    static func layerRow(_ layer: LayerReport) -> [String] {
        [layer.name, layer.kind, layer.shape.map(String.init).joined(separator: "×"), layer.bits.map(String.init) ?? "–",
         layer.groupSize.map(String.init) ?? "–",
         layer.ggmlType.map { type in layer.ggmlFallbackFrom.map { "\(type) (for \($0))" } ?? type } ?? "–",
         ReportFormat.percent(layer.sparsity),
         ReportFormat.number(layer.relativeWeightError), ReportFormat.number(layer.relativeOutputError)]
    }

    /// The note under the layer table listing the layers whose rows are not whole blocks of the
    /// ggml type asked for, and the type each took instead; nil when none fell back.
    static func ggmlFallbackNote(_ layers: [LayerReport]) -> String? {
        let fallen = layers.filter { $0.ggmlFallbackFrom != nil && $0.ggmlType != nil }
        guard !fallen.isEmpty else { return nil }
        let groups = Dictionary(grouping: fallen) { "\($0.ggmlFallbackFrom!) → \($0.ggmlType!)" }.sorted { $0.key < $1.key }
        return "ggml type fallbacks (rows not whole blocks of the type asked for, as llama.cpp's llama-quantize does): "
            + groups.map { "\($0.key): \($0.value.count) layers (\($0.value.map { "`\($0.name)`" }.joined(separator: ", ")))" }.joined(separator: "; ") + "."
    }
}
