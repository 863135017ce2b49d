import Foundation
import NanoTensor

/// The file formats nanoforge reads, told apart by their first bytes.
public enum CheckpointFormat: String, Sendable, Codable {
    case safetensors, hdf5, gguf

    /// HDF5's signature (at offset 0 in the files we read).
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    static let ggufMagic: [UInt8] = Array("GGUF".utf8)

    /// Detects the format from the leading bytes, not the extension.
    public static func detect(_ head: [UInt8], file: String) throws -> CheckpointFormat {
        if head.isEmpty { throw CheckpointError.unknownFormat(file: file, reason: "the file is empty") }
        if head.starts(with: hdf5Signature) { return .hdf5 }
        if head.starts(with: ggufMagic) { return .gguf }
        // safetensors: 8-byte little-endian header length, then a JSON object starting with '{'.
        if head.count >= 9 && head[8] == UInt8(ascii: "{") { return .safetensors }
        if head.count < 9 { throw CheckpointError.unknownFormat(file: file, reason: "only \(head.count) bytes, too short for any checkpoint format") }
        throw CheckpointError.unknownFormat(file: file, reason: "no safetensors, HDF5 or GGUF signature at the start")
    }
}

/// Names mapped to stored tensors, plus the file's metadata, whatever format it came from.
public struct TensorStore: Sendable {
    /// Tensors in file order.
    public private(set) var tensors: [StoredTensor]
    private var index: [String: Int]
    /// Free-form string metadata (safetensors `__metadata__`, HDF5 root attributes, GGUF keys).
    public var metadata: [String: String]
    public var source: String
    public var format: CheckpointFormat?

    public init(tensors: [StoredTensor] = [], metadata: [String: String] = [:], source: String = "", format: CheckpointFormat? = nil) {
        self.tensors = []
        self.index = [:]
        self.metadata = metadata
        self.source = source
        self.format = format
        for t in tensors { insert(t) }
    }

    public var names: [String] { tensors.map(\.name) }
    public var count: Int { tensors.count }
    public var parameterCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }
    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }

    public subscript(name: String) -> StoredTensor? { index[name].map { tensors[$0] } }

    /// Adds or replaces a tensor.
    public mutating func insert(_ t: StoredTensor) {
        if let i = index[t.name] { tensors[i] = t } else { index[t.name] = tensors.count; tensors.append(t) }
    }

    /// The named tensor as Float32, or a missing-tensor error naming the file.
    public func floatTensor(_ name: String) throws -> Tensor {
        guard let t = self[name] else { throw CheckpointError.missingTensor(file: source, tensor: name) }
        return t.floatTensor()
    }

    /// The named tensor as Float32, checked against `shape`.
    public func floatTensor(_ name: String, shape: [Int]) throws -> Tensor {
        guard let t = self[name] else { throw CheckpointError.missingTensor(file: source, tensor: name) }
        guard t.shape == shape else { throw CheckpointError.shapeMismatch(file: source, tensor: name, expected: shape, found: t.shape) }
        return t.floatTensor()
    }
}
