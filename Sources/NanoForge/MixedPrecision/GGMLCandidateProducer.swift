import NanoCheckpoint
import NanoQuant
import NanoTensor

/// What makes a `mixed_precision` candidate in a ggml block type: a layer's weight [out, in]
/// encoded as `type`. The pass asks for every (layer, type) pair it weighs and again for the pairs
/// it applies, so a producer must be deterministic (the same bytes for the same weight and type).
///
/// `GGMLRoundToNearest` (ggml's own rounding, `llama-quantize` without an importance matrix) is
/// the built-in one. Another quantizer on ggml's grids (GPTQ with the layer's Hessian, an
/// importance-weighted rounding) plugs in by conforming and being handed to
/// `MixedPrecisionPass.runGGML(…, producer:)`; it may keep per-layer state (Hessians by `layer`)
/// and should memoize its results when producing them costs more than a rounding.
public protocol GGMLCandidateProducer {
    /// `weight` [out, in] of the layer named `layer`, in `type`, whose blocks tile `in`
    /// (`GGMLQuantizedTensor.fits(type, columns:)` holds when this is called).
    func quantize(_ weight: Tensor, as type: GGUFTensorType, layer: String) throws -> GGMLQuantizedTensor
}

/// ggml's round to nearest: `GGMLQuantizedTensor.roundToNearest`, byte for byte what
/// `llama-quantize` writes for the type without an importance matrix.
public struct GGMLRoundToNearest: GGMLCandidateProducer {
    public init() {}

    public func quantize(_ weight: Tensor, as type: GGUFTensorType, layer: String) throws -> GGMLQuantizedTensor {
        try GGMLQuantizedTensor.roundToNearest(weight, as: type)
    }
}

/// ggml's round to nearest weighted by an importance matrix (`llama-quantize --imatrix`'s rule);
/// layers the matrix has no entry for (embedding tables) are rounded unweighted.
public struct GGMLImportanceRoundToNearest: GGMLCandidateProducer {
    public let matrix: ImportanceMatrix

    public init(matrix: ImportanceMatrix) { self.matrix = matrix }

    public func quantize(_ weight: Tensor, as type: GGUFTensorType, layer: String) throws -> GGMLQuantizedTensor {
        try GGMLQuantizedTensor.roundToNearest(weight, as: type, importance: matrix.importance(for: layer))
    }
}

/// The ggml types a mixed-precision recipe may list, and their recipe spelling.
public enum GGMLCandidateTypes {
    /// Every block type nanoforge encodes, by ascending bits per weight.
    public static let allowed: [GGUFTensorType] = GGUFBlockEncoder.encodable.sorted { ($0.bitsPerWeight, $0.rawValue) < ($1.bitsPerWeight, $1.rawValue) }

    /// The recipe's spelling of a type: ggml's name in lower case (`q4_k`, `iq4_nl`).
    public static func recipeName(_ type: GGUFTensorType) -> String { type.name.lowercased() }

    /// `allowed`'s recipe names.
    public static var allowedNames: [String] { allowed.map(recipeName) }

    /// The type a recipe names (case-insensitive), or nil when nanoforge does not encode it.
    public static func type(named name: String) -> GGUFTensorType? {
        GGUFTensorType(name: name).flatMap { GGUFBlockEncoder.canEncode($0) ? $0 : nil }
    }

    /// The listed types whose blocks tile rows of `columns` elements, in the list's order, and
    /// those that do not.
    public static func split(_ types: [GGUFTensorType], columns: Int) -> (fitting: [GGUFTensorType], dropped: [GGUFTensorType]) {
        (types.filter { GGMLQuantizedTensor.fits($0, columns: columns) }, types.filter { !GGMLQuantizedTensor.fits($0, columns: columns) })
    }
}
