import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
@testable import NanoQuant
import NanoTensor

/// A small MLP whose four Linear weights are quantized with RTN in four schemes, written as a
/// packed checkpoint: the shared fixture of the packed-checkpoint tests.
enum PackedFixture {
    /// Layers [64, 64], [32, 64], [30, 32], [6, 30].
    static let configuration = MLPClassifier.Configuration(inputs: 64, hidden: [64, 32, 30], classes: 6)

    /// layers.0: int8 symmetric channel (I8 codes); layers.1: int4 symmetric group 32, F16 scales;
    /// layers.2: int4 asymmetric channel (odd zero-point count); layers.3: int2 asymmetric tensor
    /// (a row of 30 codes does not fill whole bytes: flat layout).
    static let schemes: [(QuantizationScheme, ScaleFormat)] = [
        (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), .float32),
        (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)), .float16),
        (QuantizationScheme(bits: 4, symmetric: false, granularity: .channel), .float32),
        (QuantizationScheme(bits: 2, symmetric: false, granularity: .tensor), .float16),
    ]

    struct Written {
        let path: String
        let model: MLPClassifier
        let quantized: [String: QuantizedTensor]
        let store: TensorStore
    }

    /// The packed store of the fixture model (not yet written).
    static func make(seed: UInt64 = 5) throws -> Written {
        var rng = RandomGenerator(seed: seed)
        let mlp = MLPClassifier(configuration, rng: &rng)
        var quantized: [String: QuantizedTensor] = [:]
        for (i, (scheme, format)) in schemes.enumerated() {
            quantized["layers.\(i)"] = try RTN.quantize(mlp.layers[i].weight.value, scheme: scheme, scaleFormat: format)
        }
        let parameters = mlp.namedParameters.map { (name: $0.name, value: $0.variable.value) }
        let metadata = ["nanoforge.config": ModelSpec.mlp(configuration).nativeJSON.serialized]
        let store = try PackedCheckpoint.pack(parameters: parameters, quantized: quantized, metadata: metadata, file: "")
        return Written(path: "", model: mlp, quantized: quantized, store: store)
    }

    /// The fixture written to `dir/model.safetensors`.
    static func write(into dir: String, seed: UInt64 = 5) throws -> Written {
        let made = try make(seed: seed)
        let path = dir + "/model.safetensors"
        try SafetensorsWriter.write(made.store, to: path)
        return Written(path: path, model: made.model, quantized: made.quantized, store: made.store)
    }

    /// Float32 bit patterns, for exact comparisons.
    static func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }
}
