import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoExport
import NanoForge
import NanoModels
import NanoQuant

/// `nanoforge inspect`: what a checkpoint holds.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List a checkpoint's tensors (name, dtype, shape, bytes) as stored, its quantized layers, its parameter count and architecture; for GGUF, also the ggml types, bits per weight, hyper-parameters and tokenizer.")

    @Argument(help: "A checkpoint file (safetensors, HDF5, GGUF) or a model folder.")
    var path: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        try CLIErrors.reporting {
            if path.hasSuffix(".onnx") { return try inspectONNX() }
            let (weights, configPath) = try ModelLoader.locateWeights(path)
            if Self.isGGUF(weights) { return try inspectGGUF(weights) }
            let store = try CheckpointReader.read(path: weights)
            let architecture = Self.architecture(store: store, configPath: configPath)
            let quantized = try PackedLayer.layers(in: store)
            // Logical weights: a packed layer counts rows · columns, not its bytes or companions.
            let parameters = PackedCheckpoint.parameterCount(of: store, layers: quantized)
            let nonFinite = Dictionary(NonFiniteCheck.counts(in: store).map { ($0.name, $0.count) }, uniquingKeysWith: +)
            if json {
                var tensors: [[String: Any]] = []
                for t in store.tensors {
                    tensors.append(["name": t.name, "dtype": t.dtype.rawValue, "shape": t.shape, "bytes": t.byteCount,
                                    "non_finite": nonFinite[t.name] ?? 0])
                }
                let object: [String: Any] = [
                    "file": weights, "format": store.format?.rawValue ?? "unknown", "architecture": architecture,
                    "parameters": parameters, "bytes": store.byteCount, "tensors": tensors, "metadata": store.metadata,
                    "quantized": quantized.map(Self.jsonEntry), "non_finite": nonFinite.values.reduce(0, +),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            let nameWidth = min(72, store.names.map(\.count).max() ?? 4)
            print("\(weights) (\(store.format?.rawValue ?? "unknown"))")
            print(pad("name", nameWidth) + "  dtype  " + pad("shape", 18) + "  bytes")
            for t in store.tensors {
                print(pad(t.name, nameWidth) + "  " + pad(t.dtype.rawValue, 5) + "  "
                      + pad("[" + t.shape.map(String.init).joined(separator: ", ") + "]", 18) + "  \(t.byteCount)")
            }
            for layer in quantized { print("quantized " + Self.describe(layer)) }
            for t in store.tensors {
                if let count = nonFinite[t.name] { print("non-finite \(t.name): \(count) of \(t.elementCount) values are NaN or ±Inf") }
            }
            for (k, v) in store.metadata.sorted(by: { $0.key < $1.key }) { print("metadata \(k): \(v.count > 120 ? String(v.prefix(117)) + "..." : v)") }
            print("tensors: \(store.count)   parameters: \(parameters) (\(String(format: "%.1f", Double(parameters) / 1e6)) M)   bytes: \(store.byteCount)"
                  + (quantized.isEmpty ? "" : "   quantized layers: \(quantized.count)"))
            print("architecture: \(architecture)")
        }
    }

    /// An exported ONNX file: graph inputs and outputs, operators, initializers, metadata (the
    /// provenance among it).
    func inspectONNX() throws {
        let summary: ONNXSummary
        do { summary = try ONNXSummary.read(path: path) } catch { throw CLIErrors.BadInput("\(path): \(error)") }
        if json {
            let object: [String: Any] = [
                "file": path, "format": "onnx", "ir_version": summary.irVersion, "opsets": summary.opsets, "producer": summary.producer,
                "inputs": summary.inputs, "outputs": summary.outputs, "operators": summary.operators,
                "initializers": summary.initializerCount, "bytes": summary.initializerBytes,
                "metadata": Dictionary(summary.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]), as: UTF8.self))
            return
        }
        print("\(path) (onnx, IR \(summary.irVersion), opsets \(summary.opsets.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), producer \(summary.producer))")
        print("inputs:  " + summary.inputs.joined(separator: ", "))
        print("outputs: " + summary.outputs.joined(separator: ", "))
        print("operators: " + summary.operators.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
        print("initializers: \(summary.initializerCount) (\(summary.initializerBytes) bytes)")
        for (k, v) in summary.metadata { print("metadata \(k): \(v.count > 120 ? String(v.prefix(117)) + "..." : v)") }
    }

    func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }

    /// The architecture named by the config (or detected from tensor names when there is none).
    static func architecture(store: TensorStore, configPath: String?) -> String {
        if let native = store.metadata["nanoforge.config"], let json = try? JSONParser.parse(Array(native.utf8)),
           let spec = try? ModelSpec.parse(json, file: store.source) { return describe(spec) }
        if let configPath, let spec = try? ModelLoader.readConfig(configPath) { return describe(spec) }
        do {
            if let keras = try ModelLoader.kerasConfigSource(of: store) { return describe(try ModelSpec.recognising(keras)) }
        } catch { return "unreadable Keras model_config: \(error)" }
        let names = store.names
        if names.contains(where: { $0.hasSuffix("attention.self.query.weight") }) { return "bert (detected from tensor names; no config)" }
        if names.contains(where: { $0.hasSuffix("attn.q_proj.weight") }) { return "gpt_decoder (detected from tensor names; no config)" }
        return "unknown (no config)"
    }

    /// The family's own one-line summary (`ModelArchitecture.summary`).
    static func describe(_ spec: ModelSpec) -> String { spec.summary }

    /// One line per packed layer: `<layer> [out, in]: int4 sym group32, scales float16, 4.50 bits/weight`.
    static func describe(_ layer: PackedLayer) -> String {
        "\(layer.name) [\(layer.rows), \(layer.columns)]: \(layer.scheme), scales \(layer.scaleFormat.rawValue), "
            + String(format: "%.2f bits/weight", layer.bitsPerWeight)
    }

    static func jsonEntry(_ layer: PackedLayer) -> [String: Any] {
        var entry: [String: Any] = ["layer": layer.name, "shape": layer.shape, "bits": layer.scheme.bits, "symmetric": layer.scheme.symmetric,
                                    "scale_format": layer.scaleFormat.rawValue, "bits_per_weight": layer.bitsPerWeight]
        switch layer.scheme.granularity {
        case .tensor: entry["granularity"] = "tensor"
        case .channel: entry["granularity"] = "channel"
        case .group(let size): entry["granularity"] = "group"; entry["group_size"] = size
        }
        return entry
    }
}
