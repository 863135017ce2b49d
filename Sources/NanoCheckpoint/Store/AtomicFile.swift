import Foundation

/// Writes files so that a reader sees either the old complete file or the new complete one:
/// data goes to a temporary file in the same folder, is flushed to disk (fsync), then renamed
/// over the target, and the folder is flushed so that the rename itself survives a power loss.
public enum AtomicFile {
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        let temp = folder.appendingPathComponent(".\(url.lastPathComponent).\(uniqueSuffix).tmp")
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: temp.path, contents: nil) else {
                throw CheckpointError.writeFailed(file: path, reason: "cannot create \(temp.path)")
            }
            let handle = try FileHandle(forWritingTo: temp)
            defer { try? handle.close() }
            try handle.write(contentsOf: data)
            // FileHandle.synchronize() is fsync(2) on Linux.
            try handle.synchronize()
        } catch let error as CheckpointError {
            try? FileManager.default.removeItem(at: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw CheckpointError.writeFailed(file: path, reason: (error as NSError).localizedDescription)
        }
        guard rename(temp.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temp)
            throw CheckpointError.writeFailed(file: path, reason: reason)
        }
        synchronizeFolder(folder.path)
    }

    /// Flushes a folder's entries (a rename or a new file inside it) to disk. Best effort: a file
    /// system that cannot fsync folders leaves the data written, only the rename's durability open.
    public static func synchronizeFolder(_ folder: String) {
        let descriptor = open(folder, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        close(descriptor)
    }

    /// `PID.random`: unique across processes and across concurrent writers in one process.
    static var uniqueSuffix: String {
        "\(ProcessInfo.processInfo.processIdentifier).\(UInt32.random(in: 0...UInt32.max))"
    }
}
