import NanoTensor

/// A matrix that multiplies decoding activations in place of a Linear's Float32 weight: rows
/// [n, in] → [n, out] (bias not included). NanoRuntime's `GGMLLinear` computes it on ggml's packed
/// blocks; NanoModels only knows this seam.
public protocol RowProjection: AnyObject {
    var inFeatures: Int { get }
    var outFeatures: Int { get }
    /// x [n, inFeatures] → [n, outFeatures].
    func project(_ x: Tensor) -> Tensor
}

/// The projections `decodeFused` uses instead of the layers' Float32 weights: by Linear identity,
/// and one for a tied head (the embedding table as the output matrix). Empty: the dense path.
public struct LlamaDecodingProjections {
    public var linears: [ObjectIdentifier: any RowProjection] = [:]
    public var tiedHead: (any RowProjection)?
    /// The token embedding's rows for a list of tokens, [tokens, width], when something other
    /// than the Float32 table holds them (the packed runtime decodes them from the tied head's
    /// blocks, as llama.cpp's row lookup does); nil: the table.
    public var tokenRows: (([Int]) -> Tensor)?

    public init() {}

    /// Whether any projection is installed.
    public var isEmpty: Bool { linears.isEmpty && tiedHead == nil && tokenRows == nil }

    /// The projection installed for `layer`, if any.
    public subscript(layer: Linear) -> (any RowProjection)? {
        get { linears[ObjectIdentifier(layer)] }
        set { linears[ObjectIdentifier(layer)] = newValue }
    }
}

extension LlamaModel {
    /// `layer` on rows [n, in]: its installed projection (plus its bias) when there is one, the
    /// Float32 weight otherwise.
    func decodingRows(_ x: Tensor, _ layer: Linear) -> Tensor {
        guard let p = decodingProjections[layer] else { return Self.projectRows(x, layer) }
        var y = p.project(x)
        if let bias = layer.bias?.value { y = y + bias }
        return y
    }

    /// x += layer(input): the residual update of the output and down projections.
    func addDecodingRows(_ input: Tensor, _ layer: Linear, into x: inout Tensor) {
        guard decodingProjections[layer] != nil else {
            Tensor.addLinear(input, weight: layer.weight.value, bias: layer.bias?.value, into: &x)
            return
        }
        x = x + decodingRows(input, layer)
    }

    /// The output head on final normalised rows [n, width].
    func decodingLogits(_ normalized: Tensor) -> Tensor {
        if let head { return decodingRows(normalized, head) }
        if let tied = decodingProjections.tiedHead { return tied.project(normalized) }
        return Self.projectRows(normalized, weight: tokenEmbedding.weight.value, bias: nil)
    }
}
