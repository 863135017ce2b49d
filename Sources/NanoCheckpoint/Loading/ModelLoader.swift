import Foundation
import NanoModels
import NanoTensor

/// Builds a model from a checkpoint and its config, checking every tensor by name and shape.
public enum ModelLoader {
    /// Weight files looked for, in order, when given a folder.
    public static let weightFileNames = ["model.safetensors", "model.h5", "model.weights.h5"]

    /// A model folder (config.json + weights) or a weights file (config from its metadata or a
    /// config.json beside it).
    public static func load(path: String) throws -> (model: LoadedModel, store: TensorStore) {
        let (weights, configPath) = try locateWeights(path)
        let store = try CheckpointReader.read(path: weights)
        return (try load(store: store, configPath: configPath), store)
    }

    /// Builds the model for a store already read (or rewritten, as packed checkpoints are): the
    /// config from its `nanoforge.config` metadata, else from `configPath`. Errors name
    /// `store.source`.
    public static func load(store: TensorStore, configPath: String?) throws -> LoadedModel {
        try build(try spec(of: store, configPath: configPath), from: store)
    }

    /// The model spec of a store: its `nanoforge.config` metadata, a GGUF file's own metadata
    /// (re-read from `store.source`: the header only), else the config.json at `configPath`.
    public static func spec(of store: TensorStore, configPath: String?) throws -> ModelSpec {
        if store.format == .gguf && store.metadata["nanoforge.config"] == nil {
            return try ModelSpec.recognising(try GGUFFile.read(path: store.source).configSource)
        }
        if let native = store.metadata["nanoforge.config"] {
            let json: JSONValue
            do { json = try JSONParser.parse(Array(native.utf8)) } catch {
                throw CheckpointError.invalidConfig(file: store.source, field: "nanoforge.config", reason: "invalid JSON: \(error)")
            }
            return try ModelSpec.parse(json, file: store.source)
        } else if let configPath {
            return try readConfig(configPath)
        } else if let keras = try kerasConfigSource(of: store) {
            return try ModelSpec.recognising(keras)
        }
        throw CheckpointError.invalidConfig(file: store.source, field: "config", reason: "no config.json beside the weights and no nanoforge.config metadata")
    }

    /// A Keras `.h5` model file's own `model_config` attribute as a config source (its JSON values
    /// under the Hugging Face convention: the families recognise it by Keras's keys), or nil when
    /// the store is not HDF5 or has none.
    public static func kerasConfigSource(of store: TensorStore) throws -> ConfigSource? {
        guard store.format == .hdf5, let text = store.metadata["model_config"] else { return nil }
        let json: JSONValue
        do { json = try JSONParser.parse(Array(text.utf8)) } catch {
            throw CheckpointError.invalidConfig(file: store.source, field: "model_config", reason: "invalid JSON: \(error)")
        }
        return ConfigSource(convention: .huggingFace, values: json.configValue, file: store.source)
    }

    /// The weights file and the config.json (if any) for a path.
    public static func locateWeights(_ path: String) throws -> (weights: String, config: String?) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.unreadable(file: path, reason: "no such file or folder")
        }
        let folder = isDirectory.boolValue ? path : (path as NSString).deletingLastPathComponent
        let config = (folder as NSString).appendingPathComponent("config.json")
        let configPath = FileManager.default.fileExists(atPath: config) ? config : nil
        if !isDirectory.boolValue { return (path, configPath) }
        for name in weightFileNames {
            let candidate = (path as NSString).appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: candidate) { return (candidate, configPath) }
        }
        throw CheckpointError.unreadable(file: path, reason: "folder has none of \(weightFileNames.joined(separator: ", "))")
    }

    public static func readConfig(_ path: String) throws -> ModelSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError.unreadable(file: path, reason: "cannot read")
        }
        let json: JSONValue
        do { json = try JSONParser.parse([UInt8](data)) } catch let e as JSONParser.Error {
            throw CheckpointError.invalidConfig(file: path, field: "(root)", reason: "invalid JSON: \(e.description)")
        }
        return try ModelSpec.parse(json, file: path)
    }

    /// Tensors some exporters add that are buffers, not parameters.
    static let ignoredBuffers: Set<String> = ["embeddings.position_ids"]

    /// Builds the model for `spec` and fills every parameter from `store`, through the family's
    /// stored-name map (`ModelArchitecture.tensorNames`). A missing, extra or wrongly shaped
    /// tensor is an error naming it.
    public static func build(_ spec: ModelSpec, from store: TensorStore) throws -> LoadedModel {
        let convention: ConfigSource.Convention = store.format == .gguf ? .gguf : store.metadata["nanoforge.config"] != nil ? .native : .huggingFace
        let map = spec.tensorNames(convention: convention, storedNames: Set(store.names))
        var stored: [String: (name: String, transform: TensorNameMap.Transform)] = [:]
        for name in store.names where !map.isIgnored(name) {
            let (path, transform) = map.parameter(forStored: name)
            stored[path] = (name, transform)
        }
        var rng = RandomGenerator(seed: 0)
        let model = spec.build(parameterPaths: Set(stored.keys), rng: &rng)
        var used = Set<String>()
        for (path, variable) in model.container.namedParameters {
            guard let (name, transform) = stored[path], let t = store[name] else {
                throw CheckpointError.missingTensor(file: store.source, tensor: map.stored(forParameter: path))
            }
            let expected = transform == .transpose ? Array(variable.shape.reversed()) : variable.shape
            guard t.shape == expected else {
                throw CheckpointError.shapeMismatch(file: store.source, tensor: name, expected: expected, found: t.shape)
            }
            guard t.dtype.isFloatingPoint else {
                throw CheckpointError.invalidTensor(file: store.source, tensor: name, reason: "\(t.dtype.rawValue) weights where a float type is expected")
            }
            variable.value = TensorNameMap.apply(transform, to: t.floatTensor())
            used.insert(path)
        }
        for name in store.names where !map.isIgnored(name) {
            let path = map.parameter(forStored: name).path
            if !used.contains(path) && !ignoredBuffers.contains(path) {
                throw CheckpointError.unexpectedTensor(file: store.source, tensor: name)
            }
        }
        return model
    }

    /// The model at `path` when it is an `M` (`LlamaModel` for `nanoforge generate`); an error
    /// naming the file and the family it holds otherwise.
    public static func load<M>(path: String, as type: M.Type) throws -> M {
        let loaded = try load(path: path).model
        guard let model = loaded.as(M.self) else {
            throw CheckpointError.invalidConfig(file: path, field: "architecture",
                                                reason: "the model is a \(loaded.architecture.name), not a \(M.self)")
        }
        return model
    }

    /// Whether `path` is a file that starts with GGUF's magic.
    public static func isGGUF(_ path: String) throws -> Bool {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.unreadable(file: path, reason: "no such file or folder")
        }
        guard !isDirectory.boolValue, let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return (try? handle.read(upToCount: 4)).map { [UInt8]($0) == GGUFFile.magic } ?? false
    }
}
