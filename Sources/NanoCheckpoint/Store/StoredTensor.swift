import Foundation
import NanoTensor

/// One tensor as a checkpoint holds it: name, element type, shape and its little-endian bytes.
/// The bytes may be a slice of a memory-mapped file; nothing is converted until asked.
public struct StoredTensor: Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let data: Data

    public init(name: String, dtype: DType, shape: [Int], data: Data) {
        precondition(shape.elementCount * dtype.size == data.count,
                     "StoredTensor \(name): \(data.count) bytes for \(dtype) \(shape)")
        self.name = name; self.dtype = dtype; self.shape = shape; self.data = data
    }

    public var elementCount: Int { shape.elementCount }
    public var byteCount: Int { data.count }

    /// A Float32 tensor of the values (integers converted exactly where they fit; bool as 0/1).
    public func floatTensor() -> Tensor {
        let n = elementCount
        var out = [Float](repeating: 0, count: n)
        data.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { dst in
                func read<T>(_: T.Type, _ convert: (T) -> Float) {
                    for i in 0..<n { dst[i] = convert(raw.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self)) }
                }
                switch dtype {
                case .f32: read(UInt32.self) { Float(bitPattern: UInt32(littleEndian: $0)) }
                case .f64: read(UInt64.self) { Float(Double(bitPattern: UInt64(littleEndian: $0))) }
                case .f16: read(UInt16.self) { HalfPrecision.float(fromFloat16: UInt16(littleEndian: $0)) }
                case .bf16: read(UInt16.self) { HalfPrecision.float(fromBFloat16: UInt16(littleEndian: $0)) }
                case .i64: read(Int64.self) { Float(Int64(littleEndian: $0)) }
                case .i32: read(Int32.self) { Float(Int32(littleEndian: $0)) }
                case .i16: read(Int16.self) { Float(Int16(littleEndian: $0)) }
                case .i8: read(Int8.self) { Float($0) }
                case .u8: read(UInt8.self) { Float($0) }
                case .bool: read(UInt8.self) { $0 == 0 ? 0 : 1 }
                }
            }
        }
        return Tensor(shape: shape, scalars: out)
    }

    /// Integer values (for index tensors and quantized weights); bool as 0/1. Floats are truncated
    /// toward zero and saturate at Int64's range; NaN gives 0 (file contents must not trap).
    public func integers() -> [Int64] {
        let n = elementCount
        return data.withUnsafeBytes { raw -> [Int64] in
            func read<T>(_: T.Type, _ convert: (T) -> Int64) -> [Int64] {
                (0..<n).map { convert(raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self)) }
            }
            switch dtype {
            case .i64: return read(Int64.self) { Int64(littleEndian: $0) }
            case .i32: return read(Int32.self) { Int64(Int32(littleEndian: $0)) }
            case .i16: return read(Int16.self) { Int64(Int16(littleEndian: $0)) }
            case .i8: return read(Int8.self) { Int64($0) }
            case .u8: return read(UInt8.self) { Int64($0) }
            case .bool: return read(UInt8.self) { $0 == 0 ? 0 : 1 }
            case .f64: return read(UInt64.self) { Self.saturatingInteger(Double(bitPattern: UInt64(littleEndian: $0))) }
            case .f32, .f16, .bf16: return floatTensor().scalars.map { Self.saturatingInteger(Double($0)) }
            }
        }
    }

    static func saturatingInteger(_ x: Double) -> Int64 {
        if x.isNaN { return 0 }
        if x >= 0x1p63 { return .max }
        if x < -0x1p63 { return .min }
        return Int64(x)
    }

    /// A tensor stored as `dtype` from Float32 values (F32, F16 or BF16).
    public static func encoding(_ tensor: Tensor, name: String, as dtype: DType = .f32) -> StoredTensor {
        var bytes = Data(count: tensor.count * dtype.size)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in tensor.scalars.enumerated() {
                switch dtype {
                case .f32: raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                case .f16: raw.storeBytes(of: HalfPrecision.float16Bits(v).littleEndian, toByteOffset: i * 2, as: UInt16.self)
                case .bf16: raw.storeBytes(of: HalfPrecision.bfloat16Bits(v).littleEndian, toByteOffset: i * 2, as: UInt16.self)
                case .f64: raw.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
                default: preconditionFailure("encoding: \(dtype) is not a floating-point type")
                }
            }
        }
        return StoredTensor(name: name, dtype: dtype, shape: tensor.shape, data: bytes)
    }

    /// A tensor of integers stored as `dtype` (values must fit).
    public static func encoding(integers values: [Int64], shape: [Int], name: String, as dtype: DType) -> StoredTensor {
        precondition(values.count == shape.elementCount, "encoding: \(values.count) values for shape \(shape)")
        var bytes = Data(count: values.count * dtype.size)
        bytes.withUnsafeMutableBytes { raw in
            for (i, v) in values.enumerated() {
                switch dtype {
                case .i64: raw.storeBytes(of: v.littleEndian, toByteOffset: i * 8, as: Int64.self)
                case .i32: raw.storeBytes(of: Int32(v).littleEndian, toByteOffset: i * 4, as: Int32.self)
                case .i16: raw.storeBytes(of: Int16(v).littleEndian, toByteOffset: i * 2, as: Int16.self)
                case .i8: raw.storeBytes(of: Int8(v), toByteOffset: i, as: Int8.self)
                case .u8, .bool: raw.storeBytes(of: UInt8(v), toByteOffset: i, as: UInt8.self)
                default: preconditionFailure("encoding: \(dtype) is not an integer type")
                }
            }
        }
        return StoredTensor(name: name, dtype: dtype, shape: shape, data: bytes)
    }
}
