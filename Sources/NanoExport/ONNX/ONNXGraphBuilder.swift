import NanoQuant
import NanoTensor

/// Collects the nodes and initializers of one ONNX graph. The family builders (BERT, decoder,
/// MLP) call its op helpers; names are made unique here so builders only give readable hints.
final class ONNXGraphBuilder {
    private(set) var graph: ONNXGraph
    /// Layers whose packed form could not be kept, with the reason (`nanoforge.export_notes`).
    private(set) var notes: [String] = []
    /// Packed quantized layers by name (`ExportSource.quantized`).
    let quantized: [String: QuantizedTensor]
    /// Static input quantization by layer name (`ExportSource.activations`).
    let activations: [String: ActivationQuantization]
    /// The names of layers whose packed form was consumed, to catch packed layers the graph never used.
    private(set) var usedQuantized: Set<String> = []
    private var counter = 0
    private var constants: [String: String] = [:]

    init(name: String, quantized: [String: QuantizedTensor], activations: [String: ActivationQuantization] = [:]) {
        graph = ONNXGraph(name: name)
        self.quantized = quantized
        self.activations = activations
    }

    var initializerBytes: Int { graph.initializers.reduce(0) { $0 + $1.rawData.count } }

    func note(_ text: String) { notes.append(text) }

    func markQuantizedUsed(_ name: String) { usedQuantized.insert(name) }

    // MARK: graph inputs and outputs

    func addInput(_ name: String, _ type: ONNXDataType, _ shape: [ONNXValueInfo.Dimension]) {
        graph.inputs.append(ONNXValueInfo(name: name, elementType: type, shape: shape))
    }

    /// Declares `value` as graph output `name` (through an Identity, so inner names stay free).
    func addOutput(_ value: String, as name: String, _ type: ONNXDataType, _ shape: [ONNXValueInfo.Dimension]) {
        graph.nodes.append(ONNXNode(inputs: [value], outputs: [name], name: "output/\(name)", opType: "Identity"))
        graph.outputs.append(ONNXValueInfo(name: name, elementType: type, shape: shape))
    }

    // MARK: nodes

    /// Adds one node and returns the names of its outputs.
    @discardableResult
    func node(_ opType: String, _ inputs: [String], _ hint: String, attributes: [ONNXAttribute] = [],
              domain: String = "", outputs: Int = 1) -> [String] {
        counter += 1
        let base = "\(hint)/\(opType)_\(counter)"
        let names = outputs == 1 ? [base] : (0..<outputs).map { "\(base):\($0)" }
        graph.nodes.append(ONNXNode(inputs: inputs, outputs: names, name: base, opType: opType,
                                    domain: domain, attributes: attributes))
        return names
    }

    /// A node with one output.
    func op(_ opType: String, _ inputs: [String], _ hint: String, _ attributes: ONNXAttribute...) -> String {
        node(opType, inputs, hint, attributes: attributes)[0]
    }

    // MARK: initializers

    @discardableResult
    func initializer(_ name: String, _ type: ONNXDataType, dims: [Int], raw: [UInt8]) -> String {
        graph.initializers.append(ONNXTensor(name: name, dataType: type, dims: dims.map(Int64.init), rawData: raw))
        return name
    }

    @discardableResult
    func initializer(_ name: String, floats: [Float], dims: [Int]) -> String {
        initializer(name, .float, dims: dims, raw: Self.littleEndianBytes(floats))
    }

    @discardableResult
    func initializer(_ name: String, _ tensor: Tensor) -> String {
        initializer(name, floats: tensor.scalars, dims: tensor.shape)
    }

    /// A shared float scalar constant (shape []), created once per value.
    func scalar(_ value: Float) -> String {
        constant(key: "f\(value.bitPattern)") { name in initializer(name, floats: [value], dims: []) }
    }

    /// A shared 1-D int64 constant (axes, shapes, slice bounds).
    func int64s(_ values: [Int64]) -> String {
        constant(key: "i" + values.map(String.init).joined(separator: ",")) { name in
            initializer(name, .int64, dims: [values.count], raw: Self.littleEndianBytes(values))
        }
    }

    /// A shared int64 scalar constant (shape []).
    func int64Scalar(_ value: Int64) -> String {
        constant(key: "s\(value)") { name in initializer(name, .int64, dims: [], raw: Self.littleEndianBytes([value])) }
    }

    private func constant(key: String, _ make: (String) -> Void) -> String {
        if let name = constants[key] { return name }
        let name = "const_\(constants.count)"
        make(name)
        constants[key] = name
        return name
    }

    /// Little-endian bytes of fixed-width values (ONNX `raw_data` is little-endian).
    static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        return out
    }

    static func littleEndianBytes(_ values: [Float]) -> [UInt8] {
        littleEndianBytes(values.map(\.bitPattern))
    }
}

extension ONNXAttribute {
    static func int(_ name: String, _ v: Int) -> ONNXAttribute { ONNXAttribute(name: name, value: .int(Int64(v))) }
    static func float(_ name: String, _ v: Float) -> ONNXAttribute { ONNXAttribute(name: name, value: .float(v)) }
    static func ints(_ name: String, _ v: [Int]) -> ONNXAttribute { ONNXAttribute(name: name, value: .ints(v.map(Int64.init))) }
}
