import NanoQuant

extension IntegerCNN {
    /// One row per convolution of the integer model (a SeparableConv2D gives its depthwise half,
    /// named `<layer>/depthwise`, and its pointwise half; a Dense layer is a 1×1 convolution):
    /// int8 weights per channel and int8 inputs, the weight shape as the C tables hold it.
    var layerReports: [LayerReport] {
        operations.compactMap { op in
            guard case .convolution(let c) = op.kind else { return nil }
            let w = c.window
            let depthwise = c.depthMultiplier > 0
            let shape = depthwise ? [w.outChannels, w.kernelHeight, w.kernelWidth] : [w.outChannels, w.kernelHeight, w.kernelWidth, w.inChannels]
            let zeros = c.weights.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
            return LayerReport(name: tensors[op.output].name, kind: depthwise ? "DepthwiseConv2D" : "Conv2D", shape: shape, bits: 8,
                               sparsity: c.weights.isEmpty ? 0 : Double(zeros) / Double(c.weights.count),
                               relativeWeightError: c.relativeWeightError, activationBits: 8)
        }
    }
}
