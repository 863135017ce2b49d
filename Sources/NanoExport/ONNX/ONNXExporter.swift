import Foundation
import NanoCheckpoint
import NanoQuant
import NanoModels

/// Writes a compressed model as an ONNX file that onnxruntime runs: opset 17 plus `com.microsoft`
/// opset 1 (for MatMulNBits), weights as initializers inside the one file.
///
/// Quantized layers keep their packed form where ONNX has an operator for it (see
/// `ONNXWeightForm`); the others are stored as their dequantized float32 weights and listed in
/// the `nanoforge.export_notes` metadata entry. The provenance goes into `metadata_props`.
public enum ONNXExporter {
    /// The default-domain opset the graphs use (LayerNormalization needs 17).
    public static let opsetVersion: Int64 = 17
    /// IR version 8 is the one that introduced opset 17.
    public static let irVersion: Int64 = 8
    static let microsoftDomain = "com.microsoft"
    /// Protobuf cannot serialize a message of 2 GiB or more; external data is out of scope.
    static let sizeLimit = Int(Int32.max)

    /// Exports `source` to an ONNX file at `path`, written atomically (temporary file, then rename).
    public static func export(_ source: ExportSource, to path: String) throws {
        let bytes = try serializedModel(source)
        try AtomicFile.write(Data(bytes), to: path)
    }

    /// The serialized ModelProto of `source`; `limit` is the largest size allowed (tests lower it).
    static func serializedModel(_ source: ExportSource, limit: Int = sizeLimit) throws -> [UInt8] {
        let model = try model(source)
        // Checked before serializing, so a model far too large fails without building the bytes.
        let estimate = model.graph.initializers.reduce(0) { $0 + $1.rawData.count }
        guard estimate < limit else { throw ONNXExportError.modelTooLarge(bytes: estimate) }
        let bytes = model.serialized()
        guard bytes.count < limit else { throw ONNXExportError.modelTooLarge(bytes: bytes.count) }
        return bytes
    }

    /// The ModelProto of `source`.
    static func model(_ source: ExportSource) throws -> ONNXModel {
        guard let graph = source.model.container as? ONNXGraphExportable else {
            throw ONNXExportError.unsupportedModel(family: source.model.architecture.name, reason: "nanoforge has no ONNX graph for this architecture")
        }
        let builder = ONNXGraphBuilder(name: type(of: graph).onnxGraphName, quantized: source.quantized, activations: source.activations)
        try graph.buildONNXGraph(into: builder)
        // Packed layers the graph does not compute (a BERT pooler) are left out; say so.
        for name in source.quantized.keys.sorted() where !builder.usedQuantized.contains(name) {
            builder.note("\(name): not part of the exported graph, its quantized weights are not written")
        }
        var metadata = source.provenance.keyValues.map { ONNXMetadataEntry(key: $0.key, value: $0.value) }
        if !builder.notes.isEmpty {
            metadata.append(ONNXMetadataEntry(key: "nanoforge.export_notes", value: builder.notes.joined(separator: "\n")))
        }
        return ONNXModel(irVersion: irVersion,
                         opsets: [ONNXOperatorSet(domain: "", version: opsetVersion), ONNXOperatorSet(domain: microsoftDomain, version: 1)],
                         producerName: "nanoforge", producerVersion: source.provenance.version,
                         graph: builder.graph, metadata: metadata)
    }
}

/// A model family the ONNX exporter writes a graph for (conformances beside each graph builder).
protocol ONNXGraphExportable {
    /// The graph's name (`nanoforge_bert`, …).
    static var onnxGraphName: String { get }
    /// Adds the model's inputs, nodes and outputs to `builder`.
    func buildONNXGraph(into builder: ONNXGraphBuilder) throws
}
