/// A protocol-buffers wire-format writer: just what the ONNX messages need (varints,
/// length-delimited fields, fixed 32/64-bit, packed repeated scalars). Fields are written in the
/// order the caller gives; protobuf readers accept any order.
///
/// Wire format: https://protobuf.dev/programming-guides/encoding/ — a field is a varint key
/// `(number << 3) | wireType` followed by its payload.
struct ProtobufWriter {
    enum WireType: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }

    mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func writeKey(_ field: Int, _ type: WireType) {
        writeVarint(UInt64(field) << 3 | type.rawValue)
    }

    /// An int32/int64/enum field. Negative values take ten bytes (two's complement as uint64),
    /// as protobuf's non-zigzag `int64` encoding requires.
    mutating func writeInt(_ field: Int, _ value: Int64) {
        writeKey(field, .varint)
        writeVarint(UInt64(bitPattern: value))
    }

    mutating func writeFloat(_ field: Int, _ value: Float) {
        writeKey(field, .fixed32)
        appendLittleEndian(value.bitPattern)
    }

    mutating func writeDouble(_ field: Int, _ value: Double) {
        writeKey(field, .fixed64)
        appendLittleEndian(value.bitPattern)
    }

    mutating func writeBytes(_ field: Int, _ value: [UInt8]) {
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func writeString(_ field: Int, _ value: String) {
        writeBytes(field, Array(value.utf8))
    }

    /// An embedded message: its encoding as a length-delimited field.
    mutating func writeMessage(_ field: Int, _ encode: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        encode(&inner)
        writeBytes(field, inner.bytes)
    }

    /// A packed repeated int32/int64 field (the proto3 default for repeated scalars).
    mutating func writePackedInts(_ field: Int, _ values: [Int64]) {
        guard !values.isEmpty else { return }
        var inner = ProtobufWriter()
        for v in values { inner.writeVarint(UInt64(bitPattern: v)) }
        writeBytes(field, inner.bytes)
    }

    /// A packed repeated float field.
    mutating func writePackedFloats(_ field: Int, _ values: [Float]) {
        guard !values.isEmpty else { return }
        writeKey(field, .lengthDelimited)
        writeVarint(UInt64(values.count * 4))
        for v in values { appendLittleEndian(v.bitPattern) }
    }

    private mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.littleEndian
        withUnsafeBytes(of: &v) { bytes.append(contentsOf: $0) }
    }
}
