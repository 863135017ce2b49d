import Foundation

extension AtomicFile {
    /// For writers that produce the file themselves (HDF5): `body` writes a temporary path in the
    /// same folder as `path`; the result is flushed to disk (fsync) and renamed over `path`, so a
    /// reader sees the old complete file or the new complete one. The temporary file is removed if
    /// anything fails. Errors other than `CheckpointError` become `.writeFailed` naming `path`.
    public static func write(to path: String, using body: (_ temporaryPath: String) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        let temp = folder.appendingPathComponent(".\(url.lastPathComponent).\(uniqueSuffix).tmp").path
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try body(temp)
            try synchronize(temp, reportedAs: path)
        } catch let error as CheckpointError {
            try? FileManager.default.removeItem(atPath: temp)
            throw error
        } catch {
            try? FileManager.default.removeItem(atPath: temp)
            throw CheckpointError.writeFailed(file: path, reason: (error as NSError).localizedDescription)
        }
        guard rename(temp, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(atPath: temp)
            throw CheckpointError.writeFailed(file: path, reason: reason)
        }
        synchronizeFolder(folder.path)
    }

    /// Flushes a closed file's data to disk.
    private static func synchronize(_ file: String, reportedAs path: String) throws {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else {
            throw CheckpointError.writeFailed(file: path, reason: "cannot reopen \(file) to flush it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw CheckpointError.writeFailed(file: path, reason: "fsync failed: \(String(cString: strerror(errno)))")
        }
    }
}
