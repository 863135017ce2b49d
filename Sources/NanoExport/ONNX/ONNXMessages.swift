/// The ONNX protobuf messages the exporter writes, as plain values. Field numbers are those of
/// onnx.proto (onnx 1.23, IR version 11); only the fields nanoforge needs exist here.

/// `TensorProto.DataType`.
enum ONNXDataType: Int64, Equatable {
    case float = 1, uint8 = 2, int8 = 3, int32 = 6, int64 = 7, bool = 9
}

/// `TensorProto`: an initializer or a constant, always stored little-endian in `raw_data`.
struct ONNXTensor: Equatable {
    var name: String
    var dataType: ONNXDataType
    var dims: [Int64]
    var rawData: [UInt8]

    enum Field { static let dims = 1, dataType = 2, name = 8, rawData = 9 }
}

/// `AttributeProto` with the value kinds nanoforge writes.
struct ONNXAttribute: Equatable {
    enum Value: Equatable {
        case float(Float), int(Int64), string(String), tensor(ONNXTensor), floats([Float]), ints([Int64])

        /// `AttributeProto.AttributeType`.
        var typeCode: Int64 {
            switch self {
            case .float: return 1
            case .int: return 2
            case .string: return 3
            case .tensor: return 4
            case .floats: return 6
            case .ints: return 7
            }
        }
    }

    var name: String
    var value: Value

    enum Field { static let name = 1, f = 2, i = 3, s = 4, t = 5, floats = 7, ints = 8, type = 20 }
}

/// `NodeProto`.
struct ONNXNode: Equatable {
    var inputs: [String]
    var outputs: [String]
    var name: String
    var opType: String
    var domain: String = ""
    var attributes: [ONNXAttribute] = []

    enum Field { static let input = 1, output = 2, name = 3, opType = 4, attribute = 5, domain = 7 }
}

/// `ValueInfoProto` of a tensor: element type and shape, each axis fixed or named.
struct ONNXValueInfo: Equatable {
    enum Dimension: Equatable { case value(Int64), parameter(String) }

    var name: String
    var elementType: ONNXDataType
    var shape: [Dimension]

    enum Field { static let name = 1, type = 2 }
    /// `TypeProto.tensor_type`, `TypeProto.Tensor.{elem_type, shape}`, `TensorShapeProto.dim`,
    /// `Dimension.{dim_value, dim_param}`.
    enum TypeField { static let tensorType = 1, elemType = 1, shape = 2, dim = 1, dimValue = 1, dimParam = 2 }
}

/// `GraphProto`.
struct ONNXGraph: Equatable {
    var name: String
    var nodes: [ONNXNode] = []
    var initializers: [ONNXTensor] = []
    var inputs: [ONNXValueInfo] = []
    var outputs: [ONNXValueInfo] = []
    var valueInfo: [ONNXValueInfo] = []

    enum Field { static let node = 1, name = 2, initializer = 5, input = 11, output = 12, valueInfo = 13 }
}

/// `OperatorSetIdProto`.
struct ONNXOperatorSet: Equatable {
    var domain: String
    var version: Int64

    enum Field { static let domain = 1, version = 2 }
}

/// `StringStringEntryProto`.
struct ONNXMetadataEntry: Equatable {
    var key: String
    var value: String

    enum Field { static let key = 1, value = 2 }
}

/// `ModelProto`.
struct ONNXModel: Equatable {
    var irVersion: Int64
    var opsets: [ONNXOperatorSet]
    var producerName: String
    var producerVersion: String
    var graph: ONNXGraph
    var metadata: [ONNXMetadataEntry]

    enum Field { static let irVersion = 1, producerName = 2, producerVersion = 3, graph = 7, opsetImport = 8, metadataProps = 14 }
}
