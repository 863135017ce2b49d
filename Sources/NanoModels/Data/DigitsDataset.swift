import Foundation
import NanoTensor

/// scikit-learn's digits: 1,797 8×8 grey images (values 0–16), one CSV row each:
/// 64 pixel values then the label 0–9. Set-up extracts it from the scikit-learn wheel.
public struct DigitsDataset {
    /// [N, 64], pixels scaled to [0, 1].
    public var features: Tensor
    public var labels: [Int]

    public var count: Int { labels.count }

    public init(features: Tensor, labels: [Int]) {
        self.features = features
        self.labels = labels
    }

    /// Reads the uncompressed CSV.
    public static func load(csv path: String) throws -> DigitsDataset {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError.unreadable(file: path, reason: "no such file (run `make setup`)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw DataError.unreadable(file: path, reason: "not UTF-8 text")
        }
        var pixels: [Float] = []
        var labels: [Int] = []
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            let fields = trimmed.split(separator: ",")
            guard fields.count == 65 else {
                throw DataError.malformed(file: path, line: number + 1, reason: "expected 65 values, found \(fields.count)")
            }
            for field in fields.prefix(64) {
                guard let v = Float(field) else {
                    throw DataError.malformed(file: path, line: number + 1, reason: "'\(field)' is not a number")
                }
                pixels.append(v / 16)
            }
            guard let label = Int(Float(fields[64]) ?? -1) as Int?, (0...9).contains(label) else {
                throw DataError.malformed(file: path, line: number + 1, reason: "label '\(fields[64])' is not 0–9")
            }
            labels.append(label)
        }
        if labels.isEmpty { throw DataError.empty(file: path) }
        return DigitsDataset(features: Tensor(shape: [labels.count, 64], scalars: pixels), labels: labels)
    }

    /// The rows at `indices`, in that order.
    public func subset(_ indices: [Int]) -> DigitsDataset {
        DigitsDataset(features: Tensor.gatherRows(features, indices), labels: indices.map { labels[$0] })
    }

    /// A seeded shuffle split: (train, held-out) with `heldOutFraction` of the rows held out.
    public func split(heldOutFraction: Double, seed: UInt64) -> (train: DigitsDataset, test: DigitsDataset) {
        var rng = RandomGenerator(seed: seed)
        let order = rng.permutation(count)
        let testCount = Int((Double(count) * heldOutFraction).rounded())
        return (subset(Array(order[testCount...])), subset(Array(order[..<testCount])))
    }
}
