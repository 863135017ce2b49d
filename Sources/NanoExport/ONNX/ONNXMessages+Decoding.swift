/// Decoding of the ONNX messages nanoforge writes: enough to read an exported model back in
/// tests and tools. Fields outside `ONNXMessages.swift` are skipped.
extension ONNXTensor {
    init(decoding bytes: [UInt8]) throws {
        self.init(name: "", dataType: .float, dims: [], rawData: [])
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            switch number {
            case Field.dims: dims += try value.integers()
            case Field.dataType:
                guard let code = value.integer, let type = ONNXDataType(rawValue: code) else {
                    throw ONNXExportError.malformedProtobuf(offset: 0, reason: "tensor data type \(value)")
                }
                dataType = type
            case Field.name: name = value.string ?? ""
            case Field.rawData: rawData = value.data ?? []
            default: continue
            }
        }
    }
}

extension ONNXAttribute {
    init(decoding bytes: [UInt8]) throws {
        var name = "", type: Int64 = 0
        var f: Float = 0, i: Int64 = 0, s = "", t: ONNXTensor?, floats: [Float] = [], ints: [Int64] = []
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            switch number {
            case Field.name: name = value.string ?? ""
            case Field.type: type = value.integer ?? 0
            case Field.f: f = value.float ?? 0
            case Field.i: i = value.integer ?? 0
            case Field.s: s = value.string ?? ""
            case Field.t: t = try ONNXTensor(decoding: value.data ?? [])
            case Field.floats: floats += try value.floats()
            case Field.ints: ints += try value.integers()
            default: continue
            }
        }
        let decoded: Value
        switch type {
        case 1: decoded = .float(f)
        case 2: decoded = .int(i)
        case 3: decoded = .string(s)
        case 4: decoded = .tensor(t ?? ONNXTensor(name: "", dataType: .float, dims: [], rawData: []))
        case 6: decoded = .floats(floats)
        case 7: decoded = .ints(ints)
        default: throw ONNXExportError.malformedProtobuf(offset: 0, reason: "attribute \(name) has unsupported type \(type)")
        }
        self.init(name: name, value: decoded)
    }
}

extension ONNXNode {
    init(decoding bytes: [UInt8]) throws {
        self.init(inputs: [], outputs: [], name: "", opType: "")
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            switch number {
            case Field.input: inputs.append(value.string ?? "")
            case Field.output: outputs.append(value.string ?? "")
            case Field.name: name = value.string ?? ""
            case Field.opType: opType = value.string ?? ""
            case Field.domain: domain = value.string ?? ""
            case Field.attribute: attributes.append(try ONNXAttribute(decoding: value.data ?? []))
            default: continue
            }
        }
    }
}

extension ONNXValueInfo {
    init(decoding bytes: [UInt8]) throws {
        self.init(name: "", elementType: .float, shape: [])
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            switch number {
            case Field.name: name = value.string ?? ""
            case Field.type:
                for (typeNumber, typeValue) in try ProtobufReader.fields((value.data ?? [])[...]) where typeNumber == TypeField.tensorType {
                    try decodeTensorType(typeValue.data ?? [])
                }
            default: continue
            }
        }
    }

    private mutating func decodeTensorType(_ bytes: [UInt8]) throws {
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            if number == TypeField.elemType {
                guard let code = value.integer, let type = ONNXDataType(rawValue: code) else {
                    throw ONNXExportError.malformedProtobuf(offset: 0, reason: "element type of \(name)")
                }
                elementType = type
            } else if number == TypeField.shape {
                for (dimNumber, dimValue) in try ProtobufReader.fields((value.data ?? [])[...]) where dimNumber == TypeField.dim {
                    for (n, v) in try ProtobufReader.fields((dimValue.data ?? [])[...]) {
                        if n == TypeField.dimValue { shape.append(.value(v.integer ?? 0)) }
                        if n == TypeField.dimParam { shape.append(.parameter(v.string ?? "")) }
                    }
                }
            }
        }
    }
}

extension ONNXGraph {
    init(decoding bytes: [UInt8]) throws {
        self.init(name: "")
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            let data = value.data ?? []
            switch number {
            case Field.node: nodes.append(try ONNXNode(decoding: data))
            case Field.name: name = value.string ?? ""
            case Field.initializer: initializers.append(try ONNXTensor(decoding: data))
            case Field.input: inputs.append(try ONNXValueInfo(decoding: data))
            case Field.output: outputs.append(try ONNXValueInfo(decoding: data))
            case Field.valueInfo: valueInfo.append(try ONNXValueInfo(decoding: data))
            default: continue
            }
        }
    }
}

extension ONNXModel {
    init(decoding bytes: [UInt8]) throws {
        self.init(irVersion: 0, opsets: [], producerName: "", producerVersion: "", graph: ONNXGraph(name: ""), metadata: [])
        for (number, value) in try ProtobufReader.fields(bytes[...]) {
            switch number {
            case Field.irVersion: irVersion = value.integer ?? 0
            case Field.producerName: producerName = value.string ?? ""
            case Field.producerVersion: producerVersion = value.string ?? ""
            case Field.graph: graph = try ONNXGraph(decoding: value.data ?? [])
            case Field.opsetImport:
                var set = ONNXOperatorSet(domain: "", version: 0)
                for (n, v) in try ProtobufReader.fields((value.data ?? [])[...]) {
                    if n == ONNXOperatorSet.Field.domain { set.domain = v.string ?? "" }
                    if n == ONNXOperatorSet.Field.version { set.version = v.integer ?? 0 }
                }
                opsets.append(set)
            case Field.metadataProps:
                var entry = ONNXMetadataEntry(key: "", value: "")
                for (n, v) in try ProtobufReader.fields((value.data ?? [])[...]) {
                    if n == ONNXMetadataEntry.Field.key { entry.key = v.string ?? "" }
                    if n == ONNXMetadataEntry.Field.value { entry.value = v.string ?? "" }
                }
                metadata.append(entry)
            default: continue
            }
        }
    }
}
