/// Writes a `TensorStore` as an HDF5 file in nanoforge's native layout (docs/formats.md).
public enum HDF5CheckpointWriter {
    /// Writes `store` to `path`, replacing it atomically: the file is written beside it under a
    /// temporary name, flushed to disk, then renamed over `path`.
    ///
    /// - Every dtype is written (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL), little-endian;
    ///   F16, BF16 and BOOL as h5py spells them (derived float types, enum of int8).
    /// - Metadata becomes root string attributes; `nanoforge.config` holds the model config.
    /// - `gzipLevel` (0–9) compresses each non-empty, non-scalar tensor with gzip in chunks of at
    ///   most 1 MiB; nil stores the data contiguous and uncompressed.
    /// - Throws `CheckpointError.invalidTensor` for a name the layout cannot hold (see
    ///   `HDF5NativeLayout.paths`) before anything is written.
    public static func write(_ store: TensorStore, to path: String, gzipLevel: Int? = nil) throws {
        if let level = gzipLevel, !(0...9).contains(level) {
            throw CheckpointError.writeFailed(file: path, reason: "gzip level \(level) is outside 0…9")
        }
        let paths = try HDF5NativeLayout.paths(for: store, file: path)
        try AtomicFile.write(to: path) { temporaryPath in
            let file = try HDF5File.create(temporaryPath, reportedAs: path)
            try HDF5NativeLayout.write(store, paths: paths, into: file, gzipLevel: gzipLevel)
            try file.close()
        }
    }
}
