import Foundation
import NanoTensor
import Testing
import NanoForge
import TestSupport

@Suite struct ReportTests {
    /// A report shaped like a real MiniLM run: baseline, pruning, quantization.
    static func sample(recipe: String = "minilm-sparse-int4", shrink: Double = 1) -> CompressionReport {
        CompressionReport(recipe: recipe, model: ".cache/models/all-MiniLM-L6-v2", stages: [
            StageReport(name: "baseline", metrics: ["cosine_mean": 1, "cosine_min": 1, "retrieval_top1": 0.80, "retrieval_mrr": 0.85],
                        sizeBytes: 90_868_376, parameters: 22_713_216, latencyMs: .init(batch1: 13.9, batch32: 737.8),
                        peakMemoryBytes: 310_000_000, seconds: 0),
            StageReport(name: "prune", pass: "prune",
                        metrics: ["cosine_mean": 0.97, "cosine_min": 0.88, "retrieval_top1": 0.76, "retrieval_mrr": 0.82],
                        sizeBytes: Int(60_000_000 * shrink), parameters: 22_713_216, sparsity: 0.25,
                        latencyMs: .init(batch1: 13.5, batch32: 730), peakMemoryBytes: 330_000_000, seconds: 4.2,
                        training: .init(steps: 4, firstLoss: 0.4, finalLoss: 0.2, losses: [0.5, 0.3, 0.2, 0.2])),
            StageReport(name: "quantize", pass: "quantize",
                        metrics: ["cosine_mean": 0.95, "cosine_min": 0.80, "retrieval_top1": 0.74, "retrieval_mrr": 0.80],
                        sizeBytes: Int(14_000_000 * shrink), parameters: 22_713_216, sparsity: 0.25,
                        latencyMs: .init(batch1: 15.0), seconds: 31.5),
        ], layers: [
            LayerReport(name: "encoder.layer.0.attention.self.query.weight", kind: "Linear", shape: [384, 384], bits: 4, groupSize: 128,
                        sparsity: 0.5, relativeWeightError: 0.081, relativeOutputError: 0.043),
            LayerReport(name: "embeddings.word_embeddings.weight", kind: "Embedding", shape: [30522, 384]),
        ])
    }

    /// The issue's keys, plus `training` (null for stages that do not train).
    @Test func jsonHasExactlyTheIssuesKeys() throws {
        let json = try JSONSerialization.jsonObject(with: Self.sample().jsonData()) as? [String: Any]
        #expect(Set(json?.keys ?? [:].keys) == ["recipe", "model", "stages", "layers", "kernels"])
        #expect(json?["kernels"] as? String == KernelSet.current.name)  // the kernel set the measurements ran on
        let stages = json?["stages"] as? [[String: Any]] ?? []
        #expect(stages.count == 3)
        for stage in stages {
            #expect(Set(stage.keys) == ["name", "pass", "metrics", "size_bytes", "parameters", "bits_per_weight", "sparsity",
                                        "latency_ms", "peak_memory_bytes", "seconds", "training", "flash_bytes", "ram_bytes"])
            #expect(Set((stage["latency_ms"] as? [String: Any])?.keys ?? [:].keys) == ["batch1", "batch32"])
        }
        #expect(stages[0]["pass"] is NSNull)                                  // baseline: no pass, written as null
        #expect(stages[0]["training"] is NSNull)
        #expect(Set((stages[1]["training"] as? [String: Any])?.keys ?? [:].keys) == ["steps", "first_loss", "final_loss", "resumed_from", "losses"])
        #expect((stages[2]["latency_ms"] as? [String: Any])?["batch32"] is NSNull)
        let metrics = stages[0]["metrics"] as? [String: Double] ?? [:]
        #expect(Set(metrics.keys).isSubset(of: Set(MetricKey.allCases.map(\.rawValue))))
        let layers = json?["layers"] as? [[String: Any]] ?? []
        for layer in layers {
            #expect(Set(layer.keys) == ["name", "kind", "shape", "bits", "group_size", "sparsity", "relative_weight_error",
                                        "relative_output_error", "activation_bits", "ggml_type", "ggml_fallback_from"])
        }
        #expect(stages[2]["flash_bytes"] is NSNull && stages[2]["ram_bytes"] is NSNull)   // no integer model
        #expect(StageReport.jsonKeys.count == 13 && LayerReport.jsonKeys.count == 11)
    }

    @Test func bitsPerWeightDefaultsToSizeOverParameters() {
        let stage = StageReport(name: "s", sizeBytes: 1000, parameters: 2000)
        #expect(stage.bitsPerWeight == 4)
    }

    @Test func jsonRoundTrips() throws {
        var report = Self.sample()
        report.stages[1].metrics["perplexity"] = .infinity
        #expect(try CompressionReport.decode(report.jsonData()) == report)
    }

    @Test func writesThreeFilesAndReadsThemBack() throws {
        try withTemporaryDirectory { (folder: String) throws in
            let out = folder + "/run"
            let paths = try Self.sample().write(to: out)
            #expect(paths.map { ($0 as NSString).lastPathComponent } == ["report.json", "report.md", "report.html"])
            #expect(try CompressionReport.read(from: out) == Self.sample())
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasSuffix(".tmp") }
            #expect(leftovers.isEmpty)
        }
        #expect(throws: ReportError.unreadable(file: "/nonexistent/report.json", reason: "no such file or not readable")) {
            try CompressionReport.read(from: "/nonexistent/report.json")
        }
    }

    @Test func markdownHasARowPerStageAndPerLayer() {
        let md = MarkdownReport.render(Self.sample())
        let lines = md.split(separator: "\n")
        for name in ["baseline", "prune", "quantize"] {
            // One row in the stages table and one in the metrics table; the training stage one more.
            #expect(lines.filter { $0.hasPrefix("| \(name) |") }.count == (name == "prune" ? 3 : 2))
        }
        #expect(md.contains("| prune | 4 | 0.40000 | 0.20000 | – |"))
        #expect(lines.contains { $0.hasPrefix("| encoder.layer.0.attention.self.query.weight | Linear | 384×384 | 4 | 128 |") })
        #expect(md.contains("| stage | cosine_mean | cosine_min | retrieval_top1 | retrieval_mrr |"))
    }

    @Test func htmlIsSelfContainedWithAChartPointPerStage() {
        let html = HTMLReport.render(Self.sample())
        #expect(html.hasPrefix("<!DOCTYPE html>"))
        #expect(!html.contains("http"))
        #expect(!html.contains("src="))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<link"))
        let charts = html.components(separatedBy: "<svg").dropFirst()
        #expect(charts.count == 4)   // one per metric
        for chart in charts {
            #expect(chart.components(separatedBy: "class=\"point\"").count - 1 == 3)
            #expect(chart.contains("<polyline class=\"series\""))
            #expect(chart.contains("size (bytes on disk)"))
            #expect(chart.contains("1. baseline") && chart.contains("3. quantize"))   // legend
        }
        #expect(html.contains("<table class=\"layers\">"))
        #expect(html.contains("encoder.layer.0.attention.self.query.weight"))
    }

    @Test func htmlEscapesNames() {
        let html = HTMLReport.render(CompressionReport(recipe: "<b>&", model: "m", stages: [StageReport(name: "a<b", sizeBytes: 1, parameters: 1)]))
        #expect(html.contains("&lt;b&gt;&amp;") && html.contains("a&lt;b") && !html.contains("<b>&"))
    }

    @Test func comparisonHasOnePointAndOneRowPerRun() throws {
        try withTemporaryDirectory { (folder: String) throws in
            try Self.sample(recipe: "minilm-int8").write(to: folder + "/a")
            try Self.sample(recipe: "minilm-int4", shrink: 0.5).write(to: folder + "/b")
            try Self.sample(recipe: "minilm-int4", shrink: 0.4).write(to: folder + "/c")
            let comparison = try Comparison.read([folder + "/a", folder + "/b", folder + "/c"])
            #expect(comparison.runs.map(\.label) == ["minilm-int8", "minilm-int4 (\(folder)/b)", "minilm-int4 (\(folder)/c)"])
            let md = comparison.markdown()
            #expect(md.split(separator: "\n").filter { $0.hasPrefix("| minilm-") }.count == 3)
            let html = comparison.html()
            #expect(!html.contains("http") && !html.contains("src="))
            for chart in html.components(separatedBy: "<svg").dropFirst() {
                #expect(chart.components(separatedBy: "class=\"point\"").count - 1 == 3)
                #expect(!chart.contains("<polyline"))
            }
            #expect(try comparison.write(to: folder + "/cmp").count == 2)
        }
        #expect(throws: ReportError.noReports) { try Comparison.read([]) }
    }

    @Test func chartTicksCoverTheValues() {
        let t = SVGChart.Point(x: 1, y: 2, label: "only")
        let svg = SVGChart(title: "t", xLabel: "x", yLabel: "y", points: [t]).render()
        #expect(svg.components(separatedBy: "class=\"point\"").count - 1 == 1)
        #expect(!svg.contains("\"nan") && !svg.contains("\"-nan") && !svg.contains("inf\""))
    }

    @Test func peakMemoryAndMedian() {
        #expect(Measurement.parsePeakMemory(status: "Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t 1 kB\n") == 123_456 * 1024)
        #expect(Measurement.parsePeakMemory(status: "Name:\tx\n") == nil)
        #expect((Measurement.peakMemoryBytes() ?? 0) > 1_000_000)   // this process, on Linux
        #expect(Measurement.median([5, 1, 3]) == 3)
        #expect(Measurement.median([4, 1, 3, 2]) == 2.5)
        var calls = 0
        let ms = Measurement.medianMilliseconds(repeats: 3, warmup: 2) { calls += 1 }
        #expect(calls == 5 && ms >= 0)
    }

    /// Writes the sample report to /tmp/nanoforge-report-sample for a look in a browser.
    @Test func renderSampleForInspection() throws {
        let paths = try Self.sample().write(to: NSTemporaryDirectory() + "nanoforge-report-sample")
        #expect(paths.count == 3)
    }
}
