import Foundation

/// Writes the safetensors format: tensors in the given order, the header padded with spaces to a
/// multiple of 8 bytes (as the reference library does, so the data buffer is aligned).
public enum SafetensorsWriter {
    /// The file's bytes. A tensor named `__metadata__` is refused: readers would take it for the
    /// metadata block.
    public static func encode(_ store: TensorStore) throws -> Data {
        if store["__metadata__"] != nil {
            throw CheckpointError.invalidTensor(file: store.source, tensor: "__metadata__",
                                                reason: "safetensors reserves this name for the metadata block")
        }
        var members: [(key: String, value: JSONValue)] = []
        if !store.metadata.isEmpty {
            members.append(("__metadata__", .object(store.metadata.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })))
        }
        var offset = 0
        for t in store.tensors {
            members.append((t.name, .object([
                ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(offset)), .number(Double(offset + t.byteCount))])),
            ])))
            offset += t.byteCount
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for t in store.tensors { out.append(t.data) }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    public static func write(_ store: TensorStore, to path: String) throws {
        var named = store
        named.source = path
        try AtomicFile.write(encode(named), to: path)
    }
}
