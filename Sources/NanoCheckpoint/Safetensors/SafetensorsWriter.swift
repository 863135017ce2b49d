import Foundation

/// Writes the safetensors format: the header lists tensors in the store's order and is padded with
/// spaces to a multiple of 8 bytes; the data buffer holds the tensors by element size, largest
/// first (stable), with no gaps. As in the reference library, every tensor then starts at a
/// multiple of its element size, so readers can map it without copying.
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
        // Data layout: element sizes 8, 4, 2, 1 in turn keep every offset a multiple of the size.
        let layout = store.tensors.indices.sorted { (store.tensors[$1].dtype.size, $0) < (store.tensors[$0].dtype.size, $1) }
        var begins = [Int](repeating: 0, count: store.tensors.count)
        var offset = 0
        for i in layout {
            begins[i] = offset
            offset += store.tensors[i].byteCount
        }
        for (t, begin) in zip(store.tensors, begins) {
            members.append((t.name, .object([
                ("dtype", .string(t.dtype.rawValue)),
                ("shape", .array(t.shape.map { .number(Double($0)) })),
                ("data_offsets", .array([.number(Double(begin)), .number(Double(begin + t.byteCount))])),
            ])))
        }
        var header = Array(JSONValue.object(members).serialized.utf8)
        while (8 + header.count) % 8 != 0 { header.append(0x20) }
        var out = Data(capacity: 8 + header.count + offset)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: header)
        for i in layout { out.append(store.tensors[i].data) }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    public static func write(_ store: TensorStore, to path: String) throws {
        var named = store
        named.source = path
        try AtomicFile.write(encode(named), to: path)
    }
}
