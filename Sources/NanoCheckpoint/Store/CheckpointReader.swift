import Foundation

/// Opens any supported checkpoint file, choosing the reader by the file's leading bytes.
public enum CheckpointReader {
    public static func read(path: String) throws -> TensorStore {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError.unreadable(file: path, reason: "no such file")
        }
        guard !isDirectory.boolValue else { throw CheckpointError.unreadable(file: path, reason: "is a folder, not a file") }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CheckpointError.unreadable(file: path, reason: "permission denied")
        }
        let head = [UInt8]((try? handle.read(upToCount: 16)) ?? Data())
        try? handle.close()
        // A Keras 3 `.keras` archive: its HDF5 weights with its config.json.
        if head.starts(with: KerasArchive.magic) { return try KerasArchive.read(path: path) }
        switch try CheckpointFormat.detect(head, file: path) {
        case .safetensors: return try SafetensorsReader.read(path: path)
        case .hdf5: return try HDF5CheckpointReader.read(path: path)
        case .gguf: return try GGUFFile.read(path: path).tensorStore()
        }
    }
}
