import Foundation
import NanoCheckpoint
import NanoTensor

/// Writes GGUF version 3 files: any metadata (every value type, nested arrays), tensors of F32,
/// F16, BF16 or a `GGUFBlockEncoder` block type (Q8_0 … Q6_K, IQ4_NL) encoded from Float32, or
/// given as raw bytes of any ggml type, aligned
/// to `general.alignment` (32 unless set). Tensors are laid out in the order added, each at the
/// next multiple of the alignment. Everything is validated when the file is written, so errors
/// name the destination; the write is atomic (`AtomicFile`).
public struct GGUFWriter {
    enum Payload {
        case raw(Data)
        case values([Float])
    }

    struct Entry {
        var name: String
        var type: GGUFTensorType
        /// Row-major shape; GGUF stores it reversed.
        var shape: [Int]
        var payload: Payload
    }

    /// ggml's GGML_MAX_NAME: names must be shorter (llama.cpp refuses longer ones).
    public static let maxNameLength = 63

    /// Metadata keys in the order they were first set.
    public private(set) var keys: [String] = []
    public private(set) var metadata: [String: GGUFValue] = [:]
    private(set) var entries: [Entry] = []

    public init() {}

    /// Sets a metadata value; setting a key again replaces its value and keeps its position.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if metadata.updateValue(value, forKey: key) == nil { keys.append(key) }
    }

    /// Adds a tensor of Float32 values (row-major `tensor.shape`), stored as `type`: F32, F16,
    /// BF16 or a block type of `GGUFBlockEncoder.encodable` (the last dimension must be whole
    /// blocks: 32 elements, 256 for the K-quants).
    public mutating func addTensor(_ name: String, _ tensor: Tensor, as type: GGUFTensorType) {
        entries.append(Entry(name: name, type: type, shape: tensor.shape, payload: .values(tensor.scalars)))
    }

    /// Adds a tensor whose bytes are already encoded as `type`.
    public mutating func addTensor(_ name: String, shape: [Int], type: GGUFTensorType, bytes: Data) {
        entries.append(Entry(name: name, type: type, shape: shape, payload: .raw(bytes)))
    }

    /// The tensors added so far: name, type and row-major shape.
    public var tensors: [(name: String, type: GGUFTensorType, shape: [Int])] { entries.map { ($0.name, $0.type, $0.shape) } }

    /// Validates and writes the file atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(try serialized(path: path), to: path)
    }

    /// The file's bytes; `path` names the file in errors.
    public func serialized(path: String = "<gguf>") throws -> Data {
        let alignment = try validatedAlignment(path: path)
        var out = Data()
        out.append(contentsOf: GGUFFile.magic)
        out.appendLittleEndian(UInt32(3))
        out.appendLittleEndian(UInt64(entries.count))
        out.appendLittleEndian(UInt64(keys.count))
        for key in keys {
            let value = metadata[key]!
            guard value.isWellTyped else {
                throw CheckpointError.invalidConfig(file: path, field: key, reason: "an array element differs from the array's declared type")
            }
            out.appendGGUFString(key)
            out.appendLittleEndian(value.type.rawValue)
            value.append(to: &out)
        }
        let encoded = try entries.map { try encode($0, path: path) }
        var offset = 0
        var seen = Set<String>()
        for (entry, bytes) in zip(entries, encoded) {
            guard seen.insert(entry.name).inserted else {
                throw CheckpointError.invalidTensor(file: path, tensor: entry.name, reason: "the name is used twice")
            }
            out.appendGGUFString(entry.name)
            out.appendLittleEndian(UInt32(entry.shape.count))
            for d in entry.shape.reversed() { out.appendLittleEndian(UInt64(d)) }
            out.appendLittleEndian(entry.type.rawValue)
            out.appendLittleEndian(UInt64(offset))
            offset = Self.padded(offset + bytes.count, alignment)
        }
        out.append(Data(count: Self.padded(out.count, alignment) - out.count))
        for bytes in encoded {
            out.append(bytes)
            out.append(Data(count: Self.padded(bytes.count, alignment) - bytes.count))
        }
        return out
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private func validatedAlignment(path: String) throws -> Int {
        guard let value = metadata["general.alignment"] else { return GGUFFile.defaultAlignment }
        guard case .uint32(let a) = value, a > 0, a & (a - 1) == 0 else {
            throw CheckpointError.invalidConfig(file: path, field: "general.alignment", reason: "must be a UINT32 power of two, found \(value.jsonText) (\(value.type))")
        }
        return Int(a)
    }

    private func encode(_ entry: Entry, path: String) throws -> Data {
        func bad(_ reason: String) -> CheckpointError { .invalidTensor(file: path, tensor: entry.name, reason: reason) }
        guard !entry.name.isEmpty, entry.name.utf8.count <= Self.maxNameLength else {
            throw bad("GGUF tensor names must have 1 to \(Self.maxNameLength) bytes")
        }
        guard entry.shape.count <= GGUFFile.maxDimensions else { throw bad("rank \(entry.shape.count) exceeds GGUF's \(GGUFFile.maxDimensions)") }
        guard entry.shape.allSatisfy({ $0 >= 0 }) else { throw bad("shape \(entry.shape) has a negative dimension") }
        let count = entry.shape.reduce(1, *)
        guard let bytes = entry.type.byteCount(elements: count, rowLength: entry.shape.last ?? 1) else {
            throw bad("\(entry.type.name) needs rows (last dimension of \(entry.shape)) that are a multiple of \(entry.type.blockSize)")
        }
        switch entry.payload {
        case .raw(let data):
            guard data.count == bytes else { throw bad("\(data.count) bytes given, \(entry.type.name) \(entry.shape) needs \(bytes)") }
            return data
        case .values(let values):
            return try Self.encode(Tensor(shape: entry.shape, scalars: values), as: entry.type, name: entry.name, path: path)
        }
    }

    /// The bytes `addTensor(_:_:as:)` stores for `tensor` as `type` (rows already checked whole blocks).
    static func encode(_ tensor: Tensor, as type: GGUFTensorType, name: String, path: String) throws -> Data {
        switch type {
        case .f32: return tensor.scalars.withUnsafeBufferPointer { Data(buffer: $0) }
        case .f16: return StoredTensor.encoding(tensor, name: name, as: .f16).data
        case .bf16: return StoredTensor.encoding(tensor, name: name, as: .bf16).data
        case let block where GGUFBlockEncoder.canEncode(block):
            return try GGUFBlockEncoder.encode(tensor.scalars, as: block, rowLength: tensor.shape.last ?? 1, tensor: name, file: path)
        default: throw CheckpointError.unsupportedDType(file: path, tensor: name, dtype: type.name)
        }
    }
}
