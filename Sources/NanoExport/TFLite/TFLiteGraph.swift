/// One subgraph of a TFLite model as nanoforge writes it (int8 activations, int8 weights, int32
/// biases), and its serialization in the TFLite schema (`tensorflow/lite/schema/schema.fbs`,
/// version 3, file identifier `TFL3`). Field ids and enum values below are the schema's.
struct TFLiteGraph {
    /// schema.fbs `TensorType`.
    enum TensorType: Int8 { case float32 = 0, int32 = 2, int8 = 9 }

    /// schema.fbs `BuiltinOperator`, with the operator version nanoforge's int8 use needs
    /// (the converter's `op_version.cc` for int8 inputs and per-channel weights).
    enum BuiltinOperator: Int32 {
        case add = 0, conv2d = 3, depthwiseConv2d = 4, maxPool2d = 17, relu = 19, relu6 = 21,
             reshape = 22, softmax = 25

        var version: Int32 {
            switch self {
            case .conv2d, .depthwiseConv2d: return 3
            case .reshape: return 1
            case .add, .maxPool2d, .relu, .relu6, .softmax: return 2
            }
        }
    }

    /// schema.fbs `Padding`.
    enum Padding: Int8 { case same = 0, valid = 1 }

    /// schema.fbs `ActivationFunctionType`.
    enum Activation: Int8 { case none = 0, relu = 1, relu6 = 3 }

    /// Per-tensor (one scale) or per-channel quantization along `dimension`.
    struct Quantization: Equatable {
        var scales: [Float]
        var zeroPoints: [Int64]
        var dimension: Int32 = 0
    }

    struct Tensor {
        var name: String
        var shape: [Int32]
        var type: TensorType
        /// Constant data (little-endian), nil for an activation.
        var data: [UInt8]?
        var quantization: Quantization?
    }

    /// schema.fbs `BuiltinOptions` members, by their union index.
    enum Options {
        case none
        case conv2d(padding: Padding, strideW: Int32, strideH: Int32, activation: Activation, dilationW: Int32, dilationH: Int32)
        case depthwiseConv2d(padding: Padding, strideW: Int32, strideH: Int32, depthMultiplier: Int32, activation: Activation,
                             dilationW: Int32, dilationH: Int32)
        case pool2d(padding: Padding, strideW: Int32, strideH: Int32, filterWidth: Int32, filterHeight: Int32, activation: Activation)
        case softmax(beta: Float)
        case add(activation: Activation)
        case reshape(newShape: [Int32])

        var unionType: UInt8 {
            switch self {
            case .none: return 0
            case .conv2d: return 1
            case .depthwiseConv2d: return 2
            case .pool2d: return 5
            case .softmax: return 9
            case .add: return 11
            case .reshape: return 17
            }
        }
    }

    struct Operator {
        var code: BuiltinOperator
        var inputs: [Int32]
        var outputs: [Int32]
        var options: Options
    }

    var tensors: [Tensor] = []
    var operators: [Operator] = []
    var inputs: [Int32] = []
    var outputs: [Int32] = []
    var description = "nanoforge"
    /// `Model.metadata`: name → bytes (each in a buffer of its own).
    var metadata: [(name: String, value: [UInt8])] = []

    /// Appends a tensor, returning its index.
    mutating func add(_ tensor: Tensor) -> Int32 {
        tensors.append(tensor)
        return Int32(tensors.count - 1)
    }

    /// The operator codes in first-use order, and each operator's index into them.
    var operatorCodes: (codes: [BuiltinOperator], index: [Int]) {
        var codes: [BuiltinOperator] = []
        let index = operators.map { op -> Int in
            if let i = codes.firstIndex(of: op.code) { return i }
            codes.append(op.code)
            return codes.count - 1
        }
        return (codes, index)
    }

    // MARK: Serialization

    /// The `.tflite` bytes. Buffer 0 is the empty buffer every activation points at (the schema's
    /// convention); each constant tensor and each metadata entry has a buffer of its own.
    func serialized() -> [UInt8] {
        var b = FlatBufferBuilder(capacity: tensors.reduce(4096) { $0 + ($1.data?.count ?? 0) + 256 })

        // Buffers: the empty sentinel, then constants, then metadata values.
        var bufferData: [[UInt8]?] = [nil]
        let tensorBuffer: [UInt32] = tensors.map { t in
            guard let data = t.data else { return 0 }
            bufferData.append(data)
            return UInt32(bufferData.count - 1)
        }
        let metadataBuffer: [UInt32] = metadata.map { entry in
            bufferData.append(entry.value)
            return UInt32(bufferData.count - 1)
        }
        let bufferTables = bufferData.map { data -> FlatBufferBuilder.Offset in
            let vector = data.map { b.vector($0, alignment: 16) }     // schema: data (force_align: 16)
            b.startTable()
            if let vector { b.field(0, offset: vector) }
            return b.endTable()
        }
        let buffers = b.vector(offsets: bufferTables)

        let tensorTables = tensors.enumerated().map { i, t in Self.tensor(t, buffer: tensorBuffer[i], into: &b) }
        let tensorVector = b.vector(offsets: tensorTables)
        let (codes, codeIndex) = operatorCodes
        let operatorTables = operators.enumerated().map { i, op in Self.operatorTable(op, opcodeIndex: UInt32(codeIndex[i]), into: &b) }
        let operatorVector = b.vector(offsets: operatorTables)
        let inputVector = b.vector(inputs), outputVector = b.vector(outputs)
        let name = b.string("main")
        b.startTable()                                   // SubGraph
        b.field(0, offset: tensorVector)
        b.field(1, offset: inputVector)
        b.field(2, offset: outputVector)
        b.field(3, offset: operatorVector)
        b.field(4, offset: name)
        let subgraphs = b.vector(offsets: [b.endTable()])

        let codeTables = codes.map { code -> FlatBufferBuilder.Offset in
            b.startTable()                               // OperatorCode
            b.field(0, Int8(min(code.rawValue, 127)))    // deprecated_builtin_code (127: see builtin_code)
            b.field(2, code.version, default: 1)
            b.field(3, code.rawValue)                    // builtin_code
            return b.endTable()
        }
        let codeVector = b.vector(offsets: codeTables)
        let metadataTables = metadata.enumerated().map { i, entry -> FlatBufferBuilder.Offset in
            let name = b.string(entry.name)
            b.startTable()                               // Metadata
            b.field(0, offset: name)
            b.field(1, metadataBuffer[i])
            return b.endTable()
        }
        let metadataVector = metadata.isEmpty ? nil : b.vector(offsets: metadataTables)
        let descriptionString = b.string(description)

        b.startTable()                                   // Model
        b.field(0, UInt32(3))                            // version
        b.field(1, offset: codeVector)
        b.field(2, offset: subgraphs)
        b.field(3, offset: descriptionString)
        b.field(4, offset: buffers)
        if let metadataVector { b.field(6, offset: metadataVector) }
        return b.finish(root: b.endTable(), identifier: "TFL3")
    }

    private static func tensor(_ t: Tensor, buffer: UInt32, into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let shape = b.vector(t.shape)
        let name = b.string(t.name)
        let quantization = t.quantization.map { q -> FlatBufferBuilder.Offset in
            let scales = b.vector(q.scales), zeroPoints = b.vector(q.zeroPoints)
            b.startTable()                               // QuantizationParameters
            b.field(2, offset: scales)
            b.field(3, offset: zeroPoints)
            b.field(6, q.dimension)                      // quantized_dimension
            return b.endTable()
        }
        b.startTable()                                   // Tensor
        b.field(0, offset: shape)
        b.field(1, t.type.rawValue)
        b.field(2, buffer)
        b.field(3, offset: name)
        if let quantization { b.field(4, offset: quantization) }
        return b.endTable()
    }

    private static func operatorTable(_ op: Operator, opcodeIndex: UInt32, into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset {
        let inputs = b.vector(op.inputs), outputs = b.vector(op.outputs)
        let options = Self.options(op.options, into: &b)
        b.startTable()                                   // Operator
        b.field(0, opcodeIndex)
        b.field(1, offset: inputs)
        b.field(2, offset: outputs)
        if let options {
            b.field(3, op.options.unionType)             // builtin_options_type
            b.field(4, offset: options)                  // builtin_options
        }
        return b.endTable()
    }

    /// The options table of `options` (nil for `.none`).
    private static func options(_ options: Options, into b: inout FlatBufferBuilder) -> FlatBufferBuilder.Offset? {
        switch options {
        case .none:
            return nil
        case let .conv2d(padding, strideW, strideH, activation, dilationW, dilationH):
            b.startTable()                               // Conv2DOptions
            b.field(0, padding.rawValue)
            b.field(1, strideW)
            b.field(2, strideH)
            b.field(3, activation.rawValue)
            b.field(4, dilationW, default: 1)
            b.field(5, dilationH, default: 1)
            return b.endTable()
        case let .depthwiseConv2d(padding, strideW, strideH, depthMultiplier, activation, dilationW, dilationH):
            b.startTable()                               // DepthwiseConv2DOptions
            b.field(0, padding.rawValue)
            b.field(1, strideW)
            b.field(2, strideH)
            b.field(3, depthMultiplier)
            b.field(4, activation.rawValue)
            b.field(5, dilationW, default: 1)
            b.field(6, dilationH, default: 1)
            return b.endTable()
        case let .pool2d(padding, strideW, strideH, filterWidth, filterHeight, activation):
            b.startTable()                               // Pool2DOptions
            b.field(0, padding.rawValue)
            b.field(1, strideW)
            b.field(2, strideH)
            b.field(3, filterWidth)
            b.field(4, filterHeight)
            b.field(5, activation.rawValue)
            return b.endTable()
        case let .softmax(beta):
            b.startTable()                               // SoftmaxOptions
            b.field(0, beta)
            return b.endTable()
        case let .add(activation):
            b.startTable()                               // AddOptions
            b.field(0, activation.rawValue)
            return b.endTable()
        case let .reshape(newShape):
            let shape = b.vector(newShape)
            b.startTable()                               // ReshapeOptions
            b.field(0, offset: shape)
            return b.endTable()
        }
    }
}
