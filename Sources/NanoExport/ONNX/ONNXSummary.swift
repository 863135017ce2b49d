import Foundation

/// What an ONNX file holds, read back with nanoforge's own decoder: for `nanoforge inspect`.
public struct ONNXSummary: Sendable {
    public var irVersion: Int64
    public var opsets: [String: Int64]
    public var producer: String
    /// `metadata_props`, in file order (the provenance keys among them).
    public var metadata: [(key: String, value: String)]
    public var inputs: [String]
    public var outputs: [String]
    /// Node count per op type (`domain::Op` outside the default domain).
    public var operators: [String: Int]
    public var initializerCount: Int
    public var initializerBytes: Int

    /// Decodes `path`; malformed files give `ONNXExportError.malformedProtobuf` with the offset.
    public static func read(path: String) throws -> ONNXSummary {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ONNXExportError.malformedProtobuf(offset: 0, reason: "\(path): cannot read the file")
        }
        let model = try ONNXModel(decoding: [UInt8](data))
        var operators: [String: Int] = [:]
        for node in model.graph.nodes { operators[(node.domain.isEmpty ? "" : node.domain + "::") + node.opType, default: 0] += 1 }
        func describe(_ v: ONNXValueInfo) -> String {
            let dims = v.shape.map { d -> String in
                switch d {
                case .value(let n): return String(n)
                case .parameter(let p): return p
                }
            }
            return "\(v.name) [\(dims.joined(separator: ", "))]"
        }
        return ONNXSummary(irVersion: model.irVersion,
                           opsets: Dictionary(model.opsets.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) }, uniquingKeysWith: { a, _ in a }),
                           producer: model.producerName + " " + model.producerVersion,
                           metadata: model.metadata.map { ($0.key, $0.value) },
                           inputs: model.graph.inputs.map(describe), outputs: model.graph.outputs.map(describe),
                           operators: operators, initializerCount: model.graph.initializers.count,
                           initializerBytes: model.graph.initializers.reduce(0) { $0 + $1.rawData.count })
    }
}
