/// The type tag of a GGUF metadata value (`gguf_metadata_value_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of a fixed-size value; nil for string and array.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type can occupy (a string is at least its 8-byte
    /// length, an array its 4-byte type and 8-byte count): bounds element counts before allocating.
    var minimumSize: Int { fixedSize ?? (self == .string ? 8 : 12) }

    /// gguf-py's name: `UINT8`, …, `FLOAT64`.
    public var description: String {
        ["UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"][Int(rawValue)]
    }
}

/// A typed GGUF metadata value. Arrays keep their element type, so an empty array round-trips.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// Elements all of `GGUFValueType`; nested arrays are allowed.
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        case .array: return .array
        }
    }

    /// An array of strings.
    public static func strings(_ values: [String]) -> GGUFValue { .array(.string, values.map { .string($0) }) }

    public var string: String? { if case .string(let s) = self { return s } else { return nil } }

    /// The value as an integer when it is one of the integer types and fits `Int`.
    public var integer: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The elements of an array value.
    public var elements: [GGUFValue]? { if case .array(_, let e) = self { return e } else { return nil } }

    /// JSON text for the value: numbers, `true`/`false`, quoted strings, `[…]` for arrays.
    /// Non-finite floats are written `NaN`, `Infinity`, `-Infinity` (not JSON, but unambiguous).
    public var jsonText: String {
        switch self {
        case .uint8(let v): return String(v)
        case .int8(let v): return String(v)
        case .uint16(let v): return String(v)
        case .int16(let v): return String(v)
        case .uint32(let v): return String(v)
        case .int32(let v): return String(v)
        case .uint64(let v): return String(v)
        case .int64(let v): return String(v)
        case .float32(let v): return Self.number(Double(v), text: "\(v)")
        case .float64(let v): return Self.number(v, text: "\(v)")
        case .bool(let v): return v ? "true" : "false"
        case .string(let s): return JSONValue.quote(s)
        case .array(_, let values): return "[" + values.map(\.jsonText).joined(separator: ",") + "]"
        }
    }

    /// The text `TensorStore.metadata` holds: strings verbatim, everything else as `jsonText`.
    public var metadataText: String { string ?? jsonText }

    private static func number(_ v: Double, text: String) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "Infinity" : "-Infinity" }
        return text
    }

}
