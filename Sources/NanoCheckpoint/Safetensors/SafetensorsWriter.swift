import Foundation

/// Writes the safetensors format: the header lists tensors in the store's order and is padded with
/// spaces to a multiple of 8 bytes; the data buffer holds the tensors by element size, largest
/// first (stable), with no gaps. As in the reference library, every tensor then starts at a
/// multiple of its element size, so readers can map it without copying.
public enum SafetensorsWriter {
    /// The file in order: the length and header, then each tensor's bytes in data-buffer order.
    /// A tensor named `__metadata__` is refused: readers would take it for the metadata block.
    static func parts(_ store: TensorStore) throws -> (prefix: Data, chunks: [Data]) {
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
        var prefix = Data(capacity: 8 + header.count)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix.append(contentsOf: $0) }
        prefix.append(contentsOf: header)
        return (prefix, layout.map { store.tensors[$0].data })
    }

    /// The file's bytes (`parts(store)` joined).
    public static func encode(_ store: TensorStore) throws -> Data {
        let (prefix, chunks) = try parts(store)
        var out = Data(capacity: chunks.reduce(prefix.count) { $0 + $1.count })
        out.append(prefix)
        for chunk in chunks { out.append(chunk) }
        return out
    }

    /// Writes atomically: a temporary file in the same folder, then a rename.
    public static func write(_ store: TensorStore, to path: String) throws {
        var named = store
        named.source = path
        // Streamed tensor by tensor: the file is never held in memory whole (MiniLM's packed
        // output would otherwise be a second copy of the store, 59 MB, at the run's peak).
        let (prefix, chunks) = try parts(named)
        try AtomicFile.write(to: path) { temporaryPath in
            guard FileManager.default.createFile(atPath: temporaryPath, contents: nil) else {
                throw CheckpointError.writeFailed(file: path, reason: "cannot create \(temporaryPath)")
            }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: temporaryPath))
            defer { try? handle.close() }
            try handle.write(contentsOf: prefix)
            for chunk in chunks { try handle.write(contentsOf: chunk) }
        }
    }
}
