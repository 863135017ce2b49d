import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// A resumable snapshot of a training run: the trained parameters, AdamW's moments and step
/// count, the data position (epoch and batch; with the seed this is the whole RNG state, see
/// `TrainingBatches`), and the best state so far with its score.
///
/// Stored as one safetensors file, `checkpoint.safetensors`, in the run's checkpoint folder:
/// tensors `param/<name>`, `adam.m/<name>`, `adam.v/<name>`, `best/<name>`; the scalars as JSON in
/// the `nanoforge.training` metadata entry. The file is written to a temporary name and renamed
/// (`AtomicFile`), so a crash leaves the previous checkpoint or none.
public struct TrainingCheckpoint: Equatable {
    public struct State: Codable, Equatable {
        public var step: Int
        public var epoch: Int
        public var batch: Int
        public var seed: UInt64
        public var steps: Int
        public var batchSize: Int
        public var examples: Int
        public var optimizerSteps: Int
        public var bestScore: Double?
        public var bestStep: Int?
        public var recentLosses: [Float]
    }

    public var state: State
    public var parameters: [String: Tensor]
    public var firstMoments: [String: Tensor]
    public var secondMoments: [String: Tensor]
    public var best: [String: Tensor]?

    public static let fileName = "checkpoint.safetensors"
    static let metadataKey = "nanoforge.training"

    public static func path(in folder: String) -> String { (folder as NSString).appendingPathComponent(fileName) }

    public func write(to folder: String) throws {
        var store = TensorStore()
        func add(_ prefix: String, _ tensors: [String: Tensor]) {
            for name in tensors.keys.sorted() { store.insert(StoredTensor.encoding(tensors[name]!, name: prefix + name)) }
        }
        add("param/", parameters)
        add("adam.m/", firstMoments)
        add("adam.v/", secondMoments)
        if let best { add("best/", best) }
        let json = try JSONEncoder().encode(state)
        store.metadata[Self.metadataKey] = String(decoding: json, as: UTF8.self)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try SafetensorsWriter.write(store, to: Self.path(in: folder))
    }

    /// The checkpoint in `folder`, or nil when there is none.
    public static func read(from folder: String) throws -> TrainingCheckpoint? {
        let path = Self.path(in: folder)
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let store = try SafetensorsReader.read(path: path)
        guard let text = store.metadata[metadataKey],
              let state = try? JSONDecoder().decode(State.self, from: Data(text.utf8)) else {
            throw TrainingError.checkpointMismatch(path: path, reason: "no \(metadataKey) metadata")
        }
        var groups: [String: [String: Tensor]] = [:]
        for t in store.tensors {
            guard let slash = t.name.firstIndex(of: "/") else { continue }
            groups[String(t.name[..<slash]), default: [:]][String(t.name[t.name.index(after: slash)...])] = t.floatTensor()
        }
        return TrainingCheckpoint(state: state, parameters: groups["param"] ?? [:], firstMoments: groups["adam.m"] ?? [:],
                                  secondMoments: groups["adam.v"] ?? [:], best: groups["best"])
    }
}
