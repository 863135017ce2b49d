import Foundation
import NanoCheckpoint
import NanoTensor

/// A run's report: the recipe, the model, every stage's measurements (baseline first) and the
/// per-layer details. `write(to:)` produces `report.json`, `report.md` and `report.html`.
public struct CompressionReport: Codable, Equatable, Sendable {
    /// The recipe's `name`.
    public var recipe: String
    /// The model's path or name as the recipe gave it.
    public var model: String
    public var stages: [StageReport]
    public var layers: [LayerReport]
    /// The per-layer bit allocation of a `mixed_precision` stage and its Pareto frontier.
    public var mixedPrecision: MixedPrecisionReport?
    /// The kernel set the run's measurements ran on (`KernelSet.name`); nil in reports written
    /// before it was recorded.
    public var kernels: String?

    public init(recipe: String, model: String, stages: [StageReport], layers: [LayerReport] = [],
                mixedPrecision: MixedPrecisionReport? = nil, kernels: String? = KernelSet.current.name) {
        self.recipe = recipe; self.model = model; self.stages = stages; self.layers = layers
        self.mixedPrecision = mixedPrecision; self.kernels = kernels
    }

    enum CodingKeys: String, CodingKey {
        case recipe, model, stages, layers, kernels
        case mixedPrecision = "mixed_precision"
    }

    /// The JSON keys of the top-level object (`mixed_precision` only after such a stage).
    public static let jsonKeys = ["recipe", "model", "stages", "layers", "kernels"]

    /// File names inside an output folder.
    public static let jsonFileName = "report.json"
    public static let markdownFileName = "report.md"
    public static let htmlFileName = "report.html"

    /// Pretty-printed JSON with sorted keys. Non-finite numbers (a diverged perplexity) become the
    /// strings "Infinity", "-Infinity" and "NaN", which `decode` reads back.
    public func jsonData() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try encoder.encode(self)
    }

    /// A report from `report.json` bytes.
    public static func decode(_ data: Data) throws -> CompressionReport {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return try decoder.decode(CompressionReport.self, from: data)
    }

    /// Reads `report.json` from an output folder, or a JSON file given directly. Errors name the file.
    public static func read(from path: String) throws -> CompressionReport {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
        let file = exists && isDirectory.boolValue ? (path as NSString).appendingPathComponent(jsonFileName) : path
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ReportError.unreadable(file: file, reason: "no such file or not readable")
        }
        do { return try decode(data) } catch {
            throw ReportError.invalid(file: file, reason: "\(error)")
        }
    }

    /// Writes `report.json`, `report.md` and `report.html` into `folder` (created if needed),
    /// each atomically; returns their paths.
    @discardableResult
    public func write(to folder: String) throws -> [String] {
        let files: [(String, Data)] = [
            (Self.jsonFileName, try jsonData()),
            (Self.markdownFileName, Data(MarkdownReport.render(self).utf8)),
            (Self.htmlFileName, Data(HTMLReport.render(self).utf8)),
        ]
        return try files.map { name, data in
            let path = (folder as NSString).appendingPathComponent(name)
            try AtomicFile.write(data, to: path)
            return path
        }
    }

    /// The metric keys some stage reports, in `MetricKey` order, then any others sorted.
    public var metricKeys: [String] {
        let present = Set(stages.flatMap(\.metrics.keys))
        let known = MetricKey.allCases.map(\.rawValue).filter(present.contains)
        return known + present.subtracting(known).sorted()
    }
}

/// A report file that cannot be read back.
public enum ReportError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case invalid(file: String, reason: String)
    case noReports

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .invalid(let file, let reason): return "\(file): not a nanoforge report: \(reason)"
        case .noReports: return "no reports to compare"
        }
    }
}
