import Foundation
import NanoCheckpoint
import NanoModels
import NanoTensor

/// A random BERT sentence encoder written as a model folder (`model.safetensors`, the native
/// `config.json`, `vocab.txt`) under `folder`, for export tests that run it through `compress`.
enum TinyBertFolder {
    static func write(to folder: String, vocabulary: [String], width: Int, layers: Int, intermediateWidth: Int, seed: UInt64) throws {
        var rng = RandomGenerator(seed: seed)
        let c = BertEncoder.Configuration(vocabularySize: vocabulary.count, width: width, layers: layers, heads: 2,
                                          intermediateWidth: intermediateWidth, maxPositions: 16)
        let bert = BertEncoder(c, rng: &rng)
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try SafetensorsWriter.write(TensorStore(tensors: bert.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) }),
                                    to: folder + "/model.safetensors")
        try ModelSpec.bert(c).nativeJSON.serialized.write(toFile: folder + "/config.json", atomically: true, encoding: .utf8)
        try (vocabulary.joined(separator: "\n") + "\n").write(toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
    }
}
