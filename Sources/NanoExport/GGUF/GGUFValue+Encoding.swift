import Foundation
import NanoCheckpoint

extension GGUFValue {
    /// Appends the value's bytes as GGUF stores them (little-endian; strings as uint64 length +
    /// UTF-8; arrays as uint32 element type + uint64 count + elements). The type tag is not written.
    func append(to out: inout Data) {
        switch self {
        case .uint8(let v): out.append(v)
        case .int8(let v): out.append(UInt8(bitPattern: v))
        case .uint16(let v): out.appendLittleEndian(v)
        case .int16(let v): out.appendLittleEndian(v)
        case .uint32(let v): out.appendLittleEndian(v)
        case .int32(let v): out.appendLittleEndian(v)
        case .uint64(let v): out.appendLittleEndian(v)
        case .int64(let v): out.appendLittleEndian(v)
        case .float32(let v): out.appendLittleEndian(v.bitPattern)
        case .float64(let v): out.appendLittleEndian(v.bitPattern)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): out.appendGGUFString(s)
        case .array(let type, let values):
            out.appendLittleEndian(type.rawValue)
            out.appendLittleEndian(UInt64(values.count))
            for v in values { v.append(to: &out) }
        }
    }

    /// Whether every array element has its array's declared type (recursively).
    var isWellTyped: Bool {
        guard case .array(let type, let values) = self else { return true }
        return values.allSatisfy { $0.type == type && $0.isWellTyped }
    }
}

extension Data {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendGGUFString(_ s: String) {
        let utf8 = Array(s.utf8)
        appendLittleEndian(UInt64(utf8.count))
        append(contentsOf: utf8)
    }
}
