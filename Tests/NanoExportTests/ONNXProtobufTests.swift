import Foundation
import Testing
@testable import NanoExport
import TestSupport

/// The hand-written protobuf layer: wire encoding by the spec's own examples, and a round trip of
/// every ONNX message the exporter writes through the decoder.
@Suite struct ONNXProtobufTests {
    @Test func varintsFollowTheWireFormat() {
        var w = ProtobufWriter()
        w.writeVarint(1); w.writeVarint(150); w.writeVarint(300)
        #expect(w.bytes == [0x01, 0x96, 0x01, 0xAC, 0x02])
        var negative = ProtobufWriter()
        negative.writeInt(1, -1)   // int64 -1: key 0x08, then ten bytes of two's complement
        #expect(negative.bytes == [0x08] + [UInt8](repeating: 0xFF, count: 9) + [0x01])
    }

    @Test func fieldsCarryNumberAndWireType() throws {
        var w = ProtobufWriter()
        w.writeString(2, "testing")
        w.writeFloat(3, 1.5)
        w.writePackedInts(4, [3, 270, 86942])
        // The spec's packed example: field 4, length 6, 03 8E 02 9E A7 05.
        #expect(Array(w.bytes.suffix(8)) == [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05])
        #expect(Array(w.bytes.prefix(9)) == [0x12, 0x07] + Array("testing".utf8))
        let fields = try ProtobufReader.fields(w.bytes[...])
        #expect(fields.map(\.number) == [2, 3, 4])
        #expect(fields[1].value.float == 1.5)
        #expect(try fields[2].value.integers() == [3, 270, 86942])
    }

    @Test func truncatedMessagesAreErrors() {
        var w = ProtobufWriter()
        w.writeString(1, "abcdef")
        #expect(throws: ONNXExportError.self) { try ProtobufReader.fields(w.bytes.dropLast(2)) }
        #expect(throws: ONNXExportError.self) { try ProtobufReader.fields([0x08, 0x80][...]) }
    }

    static func sampleModel() -> ONNXModel {
        let weight = ONNXTensor(name: "w", dataType: .float, dims: [2, 3],
                                rawData: ONNXGraphBuilder.littleEndianBytes([Float](arrayLiteral: 1, -2, 3.5, 0, 1e-9, -7)))
        let attributes: [ONNXAttribute] = [
            .int("axis", -1), .float("epsilon", 1e-12), .ints("perm", [0, 2, 1, 3]),
            ONNXAttribute(name: "mode", value: .string("constant")),
            ONNXAttribute(name: "scales", value: .floats([0.5, 2])),
            ONNXAttribute(name: "value", value: .tensor(weight)),
        ]
        var graph = ONNXGraph(name: "g")
        graph.nodes = [ONNXNode(inputs: ["x", "w"], outputs: ["y"], name: "n0", opType: "MatMul"),
                       ONNXNode(inputs: ["y"], outputs: ["z"], name: "n1", opType: "MatMulNBits", domain: "com.microsoft", attributes: attributes)]
        graph.initializers = [weight, ONNXTensor(name: "ids", dataType: .int64, dims: [], rawData: ONNXGraphBuilder.littleEndianBytes([Int64(-5)]))]
        graph.inputs = [ONNXValueInfo(name: "x", elementType: .float, shape: [.parameter("batch"), .value(2)])]
        graph.outputs = [ONNXValueInfo(name: "z", elementType: .float, shape: [.parameter("batch"), .value(3)])]
        graph.valueInfo = [ONNXValueInfo(name: "y", elementType: .int8, shape: [])]
        return ONNXModel(irVersion: 8, opsets: [ONNXOperatorSet(domain: "", version: 17), ONNXOperatorSet(domain: "com.microsoft", version: 1)],
                         producerName: "nanoforge", producerVersion: "0.1",
                         graph: graph, metadata: [ONNXMetadataEntry(key: "nanoforge.recipe", value: "stages: [é]")])
    }

    @Test func everyMessageRoundTrips() throws {
        let model = Self.sampleModel()
        let decoded = try ONNXModel(decoding: model.serialized())
        #expect(decoded == model)
    }

    /// The reference protobuf implementation (through the `onnx` package) reads what we write.
    @Test func onnxPackageParsesTheEncoding() throws {
        try PythonRunner.require(modules: ["onnx", "numpy"])
        try withTemporaryDirectory { folder in
            let path = folder + "/sample.onnx"
            try Data(Self.sampleModel().serialized()).write(to: URL(fileURLWithPath: path))
            let script = """
            import sys, onnx
            m = onnx.load(sys.argv[1])
            g = m.graph
            a = {x.name: onnx.helper.get_attribute_value(x) for x in g.node[1].attribute}
            print(m.ir_version, m.producer_name, [(o.domain, o.version) for o in m.opset_import], g.name,
                  [n.op_type for n in g.node], g.node[1].domain, a["axis"], list(a["perm"]), a["mode"], list(a["scales"]),
                  [float(v) for v in onnx.numpy_helper.to_array(g.initializer[0]).ravel()], int(onnx.numpy_helper.to_array(g.initializer[1])),
                  [(d.dim_param or d.dim_value) for d in g.input[0].type.tensor_type.shape.dim],
                  m.metadata_props[0].key, m.metadata_props[0].value)
            """
            let out = try PythonRunner.run(script, arguments: [path])
            #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) ==
                    "8 nanoforge [('', 17), ('com.microsoft', 1)] g ['MatMul', 'MatMulNBits'] com.microsoft -1 [0, 2, 1, 3] b'constant' [0.5, 2.0] "
                    + "[1.0, -2.0, 3.5, 0.0, 9.999999717180685e-10, -7.0] -5 ['batch', 2] nanoforge.recipe stages: [é]")
        }
    }
}
