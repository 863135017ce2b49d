/// Protobuf encoding of the ONNX messages (see `ONNXMessages.swift` for the field numbers).
extension ONNXTensor {
    func encode(into w: inout ProtobufWriter) {
        w.writePackedInts(Field.dims, dims)
        w.writeInt(Field.dataType, dataType.rawValue)
        w.writeString(Field.name, name)
        w.writeBytes(Field.rawData, rawData)
    }
}

extension ONNXAttribute {
    func encode(into w: inout ProtobufWriter) {
        w.writeString(Field.name, name)
        w.writeInt(Field.type, value.typeCode)
        switch value {
        case .float(let f): w.writeFloat(Field.f, f)
        case .int(let i): w.writeInt(Field.i, i)
        case .string(let s): w.writeString(Field.s, s)
        case .tensor(let t): w.writeMessage(Field.t) { t.encode(into: &$0) }
        case .floats(let fs): w.writePackedFloats(Field.floats, fs)
        case .ints(let xs): w.writePackedInts(Field.ints, xs)
        }
    }
}

extension ONNXNode {
    func encode(into w: inout ProtobufWriter) {
        for i in inputs { w.writeString(Field.input, i) }
        for o in outputs { w.writeString(Field.output, o) }
        w.writeString(Field.name, name)
        w.writeString(Field.opType, opType)
        if !domain.isEmpty { w.writeString(Field.domain, domain) }
        for a in attributes { w.writeMessage(Field.attribute) { a.encode(into: &$0) } }
    }
}

extension ONNXValueInfo {
    func encode(into w: inout ProtobufWriter) {
        w.writeString(Field.name, name)
        w.writeMessage(Field.type) { type in
            type.writeMessage(TypeField.tensorType) { tensor in
                tensor.writeInt(TypeField.elemType, elementType.rawValue)
                tensor.writeMessage(TypeField.shape) { shapeWriter in
                    for d in shape {
                        shapeWriter.writeMessage(TypeField.dim) { dim in
                            switch d {
                            case .value(let v): dim.writeInt(TypeField.dimValue, v)
                            case .parameter(let p): dim.writeString(TypeField.dimParam, p)
                            }
                        }
                    }
                }
            }
        }
    }
}

extension ONNXGraph {
    func encode(into w: inout ProtobufWriter) {
        for n in nodes { w.writeMessage(Field.node) { n.encode(into: &$0) } }
        w.writeString(Field.name, name)
        for t in initializers { w.writeMessage(Field.initializer) { t.encode(into: &$0) } }
        for v in inputs { w.writeMessage(Field.input) { v.encode(into: &$0) } }
        for v in outputs { w.writeMessage(Field.output) { v.encode(into: &$0) } }
        for v in valueInfo { w.writeMessage(Field.valueInfo) { v.encode(into: &$0) } }
    }
}

extension ONNXModel {
    func encode(into w: inout ProtobufWriter) {
        w.writeInt(Field.irVersion, irVersion)
        w.writeString(Field.producerName, producerName)
        w.writeString(Field.producerVersion, producerVersion)
        w.writeMessage(Field.graph) { graph.encode(into: &$0) }
        for o in opsets {
            w.writeMessage(Field.opsetImport) { s in
                // The default domain is written as "" explicitly; readers treat absent and "" alike.
                s.writeString(ONNXOperatorSet.Field.domain, o.domain)
                s.writeInt(ONNXOperatorSet.Field.version, o.version)
            }
        }
        for e in metadata {
            w.writeMessage(Field.metadataProps) { s in
                s.writeString(ONNXMetadataEntry.Field.key, e.key)
                s.writeString(ONNXMetadataEntry.Field.value, e.value)
            }
        }
    }

    /// The serialized model.
    func serialized() -> [UInt8] {
        var w = ProtobufWriter(capacity: graph.initializers.reduce(1 << 16) { $0 + $1.rawData.count + 64 })
        encode(into: &w)
        return w.bytes
    }
}
