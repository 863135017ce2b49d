import Foundation

/// A bounds-checked little-endian reader over a GGUF file's bytes. Every read checks the bytes
/// remain; every count is checked against the bytes left before anything is allocated, so a header
/// that lies about a length or count fails with `truncated` or `malformedHeader`, never a trap.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let file: String
    private(set) var offset = 0

    /// Nested arrays deeper than this are refused (no real file nests more than twice).
    static let maxArrayDepth = 16

    init(_ bytes: UnsafeRawBufferPointer, file: String) { self.bytes = bytes; self.file = file }

    var remaining: Int { Swift.max(0, bytes.count - offset) }

    mutating func require(_ count: Int, _ what: @autoclosure () -> String) throws {
        guard count >= 0, count <= remaining else {
            throw CheckpointError.truncated(file: file, reason: "\(what()) needs \(count) bytes at offset \(offset), but the file has \(remaining) left")
        }
    }

    mutating func load<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try require(MemoryLayout<T>.size, what())
        defer { offset += MemoryLayout<T>.size }
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A count stored as uint64, checked to be at most `remaining / minimumSize` (each counted item
    /// occupies at least that many bytes), so it can size an allocation safely.
    mutating func count(_ what: @autoclosure () -> String, minimumSize: Int) throws -> Int {
        let start = offset
        let raw = try load(UInt64.self, what())
        let limit = UInt64(remaining / max(1, minimumSize))
        guard raw <= limit else {
            throw CheckpointError.malformedHeader(file: file, reason: "\(what()) is \(raw) at offset \(start), but the \(remaining) bytes left hold at most \(limit)")
        }
        return Int(raw)
    }

    /// A gguf_string: uint64 length, then that many UTF-8 bytes (no terminator).
    mutating func string(_ what: @autoclosure () -> String) throws -> String {
        let start = offset
        let raw = try load(UInt64.self, "the length of \(what())")
        guard raw <= UInt64(remaining) else {
            throw CheckpointError.truncated(file: file, reason: "\(what()) at offset \(start) claims \(raw) bytes, but the file has \(remaining) left")
        }
        let n = Int(raw)
        defer { offset += n }
        guard let s = String(validating: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]), as: UTF8.self) else {
            throw CheckpointError.malformedHeader(file: file, reason: "\(what()) at offset \(start) is not valid UTF-8")
        }
        return s
    }

    mutating func valueType(_ what: @autoclosure () -> String) throws -> GGUFValueType {
        let start = offset
        let raw = try load(UInt32.self, "the type of \(what())")
        guard let type = GGUFValueType(rawValue: raw) else {
            throw CheckpointError.malformedHeader(file: file, reason: "\(what()) has value type \(raw) at offset \(start); GGUF defines 0–12")
        }
        return type
    }

    /// One metadata value of `type`; arrays recurse up to `maxArrayDepth`.
    mutating func value(_ type: GGUFValueType, _ what: String, depth: Int = 0) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try load(UInt8.self, what))
        case .int8: return .int8(try load(Int8.self, what))
        case .uint16: return .uint16(try load(UInt16.self, what))
        case .int16: return .int16(try load(Int16.self, what))
        case .uint32: return .uint32(try load(UInt32.self, what))
        case .int32: return .int32(try load(Int32.self, what))
        case .uint64: return .uint64(try load(UInt64.self, what))
        case .int64: return .int64(try load(Int64.self, what))
        case .float32: return .float32(Float(bitPattern: try load(UInt32.self, what)))
        case .float64: return .float64(Double(bitPattern: try load(UInt64.self, what)))
        case .bool:
            let start = offset
            let b = try load(UInt8.self, what)
            guard b <= 1 else {
                throw CheckpointError.malformedHeader(file: file, reason: "\(what) is a bool of value \(b) at offset \(start); GGUF allows 0 or 1")
            }
            return .bool(b == 1)
        case .string: return .string(try string(what))
        case .array:
            guard depth < Self.maxArrayDepth else {
                throw CheckpointError.malformedHeader(file: file, reason: "\(what) nests arrays deeper than \(Self.maxArrayDepth)")
            }
            let elementType = try valueType("the elements of \(what)")
            let n = try count("the element count of \(what)", minimumSize: elementType.minimumSize)
            var values: [GGUFValue] = []
            values.reserveCapacity(n)
            for i in 0..<n { values.append(try value(elementType, "\(what)[\(i)]", depth: depth + 1)) }
            return .array(elementType, values)
        }
    }

    /// Moves to the next multiple of `alignment` (the padding need not be present at the end).
    mutating func align(_ alignment: Int) {
        let (padded, overflow) = offset.addingReportingOverflow(alignment - 1)
        offset = overflow ? Int.max : padded / alignment * alignment
    }
}
