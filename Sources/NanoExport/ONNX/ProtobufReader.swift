/// A protocol-buffers wire-format reader: splits a message into its fields, so tests (and tools)
/// can decode what `ProtobufWriter` wrote. Unknown fields are kept as raw values.
struct ProtobufReader {
    /// One field as read from the wire.
    enum Value: Equatable {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes([UInt8])
        case fixed32(UInt32)
    }

    /// All fields of `bytes` in wire order, as (field number, value).
    static func fields(_ bytes: ArraySlice<UInt8>) throws -> [(number: Int, value: Value)] {
        var reader = ProtobufReader(bytes: bytes)
        var out: [(number: Int, value: Value)] = []
        while reader.position < bytes.endIndex {
            let key = try reader.readVarint()
            let number = Int(key >> 3)
            guard number > 0 else { throw ONNXExportError.malformedProtobuf(offset: reader.position, reason: "field number 0") }
            switch key & 7 {
            case 0: out.append((number, .varint(try reader.readVarint())))
            case 1: out.append((number, .fixed64(try reader.readFixed(8))))
            case 2:
                let length = Int(try reader.readVarint())
                guard length >= 0, length <= bytes.endIndex - reader.position else {
                    throw ONNXExportError.malformedProtobuf(offset: reader.position, reason: "length \(length) runs past the end")
                }
                out.append((number, .bytes(Array(bytes[reader.position..<(reader.position + length)]))))
                reader.position += length
            case 5: out.append((number, .fixed32(UInt32(try reader.readFixed(4)))))
            default:
                throw ONNXExportError.malformedProtobuf(offset: reader.position, reason: "unsupported wire type \(key & 7)")
            }
        }
        return out
    }

    private let bytes: ArraySlice<UInt8>
    private var position: Int

    private init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        self.position = bytes.startIndex
    }

    private mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex, shift < 64 else {
                throw ONNXExportError.malformedProtobuf(offset: position, reason: "truncated or overlong varint")
            }
            let byte = bytes[position]
            position += 1
            result |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { return result }
            shift += 7
        }
    }

    private mutating func readFixed(_ count: Int) throws -> UInt64 {
        guard bytes.endIndex - position >= count else {
            throw ONNXExportError.malformedProtobuf(offset: position, reason: "truncated fixed\(count * 8)")
        }
        var v: UInt64 = 0
        for i in 0..<count { v |= UInt64(bytes[position + i]) << UInt64(8 * i) }
        position += count
        return v
    }
}

extension ProtobufReader.Value {
    var integer: Int64? { if case .varint(let v) = self { return Int64(bitPattern: v) } else { return nil } }
    var data: [UInt8]? { if case .bytes(let b) = self { return b } else { return nil } }
    var string: String? { data.map { String(decoding: $0, as: UTF8.self) } }
    var float: Float? { if case .fixed32(let v) = self { return Float(bitPattern: v) } else { return nil } }

    /// The elements of a repeated int field, packed (one length-delimited run) or not.
    func integers() throws -> [Int64] {
        switch self {
        case .varint(let v): return [Int64(bitPattern: v)]
        case .bytes(let b):
            return try ProtobufReader.packedVarints(b)
        default: throw ONNXExportError.malformedProtobuf(offset: 0, reason: "expected an integer field")
        }
    }

    /// The elements of a repeated float field, packed or not.
    func floats() throws -> [Float] {
        switch self {
        case .fixed32(let v): return [Float(bitPattern: v)]
        case .bytes(let b) where b.count % 4 == 0:
            return stride(from: 0, to: b.count, by: 4).map { i in
                Float(bitPattern: UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24)
            }
        default: throw ONNXExportError.malformedProtobuf(offset: 0, reason: "expected a float field")
        }
    }
}

extension ProtobufReader {
    static func packedVarints(_ bytes: [UInt8]) throws -> [Int64] {
        var out: [Int64] = []
        var value: UInt64 = 0, shift: UInt64 = 0
        for byte in bytes {
            guard shift < 64 else { throw ONNXExportError.malformedProtobuf(offset: 0, reason: "overlong packed varint") }
            value |= UInt64(byte & 0x7f) << shift
            if byte < 0x80 { out.append(Int64(bitPattern: value)); value = 0; shift = 0 } else { shift += 7 }
        }
        guard shift == 0 else { throw ONNXExportError.malformedProtobuf(offset: bytes.count, reason: "truncated packed varint") }
        return out
    }
}
