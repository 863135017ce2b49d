import NanoModels

/// The graph of an MLP classifier (`LoadedModel.mlp`): `features` float [batch, inputs] →
/// `logits` [batch, classes], the configured activation between layers as `MLPClassifier` applies it.
enum ONNXMLPGraph {
    static func build(_ model: MLPClassifier, into b: ONNXGraphBuilder) throws {
        let c = model.configuration
        let inputs = model.layers[0].inFeatures, classes = model.layers[model.layers.count - 1].outFeatures
        b.addInput("features", .float, [.parameter("batch"), .value(Int64(inputs))])
        var h = "features"
        for (i, layer) in model.layers.enumerated() {
            h = try b.linear(h, layer, name: "layers.\(i)")
            if i < model.layers.count - 1 { h = b.activation(h, c.activation, name: "layers.\(i)") }
        }
        b.addOutput(h, as: "logits", .float, [.parameter("batch"), .value(Int64(classes))])
    }
}

extension MLPClassifier: ONNXGraphExportable {
    static var onnxGraphName: String { "nanoforge_mlp" }
    func buildONNXGraph(into builder: ONNXGraphBuilder) throws { try ONNXMLPGraph.build(self, into: builder) }
}
