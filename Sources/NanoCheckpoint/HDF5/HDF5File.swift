import CHDF5
import Foundation

/// Bounds that keep a hostile or broken file from making the reader allocate or recurse without
/// limit. They are checked before HDF5 is asked for the bytes.
enum HDF5Limits {
    /// No dataset larger than this is read, compressed or not.
    static let maxDatasetBytes = 16 << 30
    /// An uncompressed dataset may not declare more than this many times the file's size (its
    /// bytes must be in the file, except for unwritten regions that read as the fill value).
    static let uncompressedExpansion = 1000
    /// A chunk may not be larger than this, nor than its dataset, whichever is larger; HDF5
    /// allocates whole chunks while reading.
    static let maxChunkBytes = 64 << 20
    /// Attribute values (names, configs, string lists) larger than this are refused.
    static let maxAttributeBytes = 64 << 20
    /// Group nesting deeper than this is refused (and no group is entered twice).
    static let maxDepth = 64
}

/// An open HDF5 file and its path (named in every error).
final class HDF5File {
    let path: String
    let handle: HDF5Handle
    /// The file's size on disk when opened.
    let byteCount: Int

    private init(path: String, handle: HDF5Handle, byteCount: Int) {
        self.path = path
        self.handle = handle
        self.byteCount = byteCount
    }

    var site: HDF5Site { HDF5Site(file: path, object: "/") }

    /// Opens `path` read-only. An empty file, a file without HDF5's signature and a file shorter
    /// than its superblock says are told apart from other HDF5 failures.
    static func open(_ path: String) throws -> HDF5File {
        try open(path, flags: nf_H5F_ACC_RDONLY())
    }

    /// Opens an existing file for reading and writing (to change attributes in place).
    static func openForUpdate(_ path: String) throws -> HDF5File {
        try open(path, flags: nf_H5F_ACC_RDWR())
    }

    private static func open(_ path: String, flags: UInt32) throws -> HDF5File {
        HDF5Library.silenceErrorPrinting()
        let attributes: [FileAttributeKey: Any]
        do { attributes = try FileManager.default.attributesOfItem(atPath: path) } catch {
            throw CheckpointError.unreadable(file: path, reason: "no such file")
        }
        guard attributes[.type] as? FileAttributeType != .typeDirectory else {
            throw CheckpointError.unreadable(file: path, reason: "is a folder, not a file")
        }
        let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
        guard size > 0 else { throw CheckpointError.unknownFormat(file: path, reason: "the file is empty") }
        let isHDF5 = H5Fis_hdf5(path)
        guard isHDF5 >= 0 else {
            throw CheckpointError.unreadable(file: path, reason: HDF5Library.takeErrorMessage())
        }
        guard isHDF5 > 0 else { throw noSignature(path) }
        let access = try accessProperties(HDF5Site(file: path, object: "/"))
        return try open(path, flags: flags, access: access, size: size)
    }

    /// Opens the bytes of a whole HDF5 file held in memory, read-only, through HDF5's core (memory)
    /// driver with `data` as its file image: nothing is read from or written to disk. `source`
    /// names the file in errors. The same checks as for a file on disk apply.
    static func open(data: Data, source: String) throws -> HDF5File {
        HDF5Library.silenceErrorPrinting()
        guard !data.isEmpty else { throw CheckpointError.unknownFormat(file: source, reason: "the file is empty") }
        guard signatureOffset(data) != nil else { throw noSignature(source) }
        let site = HDF5Site(file: source, object: "/")
        let access = try site.handle(H5Pcreate(nf_H5P_FILE_ACCESS()), .propertyList, "cannot create file access properties")
        // HDF5 copies the image into a buffer of its own (the 64 KiB increment only matters for writing).
        try site.check(H5Pset_fapl_core(access.id, 1 << 16, false), "cannot select HDF5's memory driver")
        try data.withUnsafeBytes { bytes in
            _ = try site.check(H5Pset_file_image(access.id, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count),
                           "cannot hand the file image to HDF5")
        }
        return try open(source, flags: nf_H5F_ACC_RDONLY(), access: access, size: data.count, name: imageName())
    }

    private static let imageLock = NSLock()
    nonisolated(unsafe) private static var imageCount = 0

    /// The name HDF5 is given for a file image: the core driver refuses a name that exists on disk
    /// ("file already exists") and HDF5 may share an open file by name, so each image gets a
    /// unique name that no file can have (a path through /dev/null, which is not a folder).
    private static func imageName() -> String {
        imageLock.lock()
        defer { imageLock.unlock() }
        imageCount += 1
        return "/dev/null/nanoforge-image-\(imageCount).h5"
    }

    private static func open(_ path: String, flags: UInt32, access: HDF5Handle, size: Int, name: String? = nil) throws -> HDF5File {
        let id = H5Fopen(name ?? path, flags, access.id)
        guard id >= 0 else {
            let message = HDF5Library.takeErrorMessage()
            if message.contains("truncated file") {
                throw CheckpointError.truncated(file: path, reason: "\(size) bytes on disk, fewer than the HDF5 superblock records (\(message))")
            }
            throw CheckpointError.hdf5(file: path, object: "/", reason: "cannot open: \(message)")
        }
        return HDF5File(path: path, handle: HDF5Handle(id, kind: .file), byteCount: size)
    }

    private static func noSignature(_ path: String) -> CheckpointError {
        .unknownFormat(file: path, reason: "no HDF5 signature (looked at byte 0 and at 512, 1024, 2048, … as HDF5 allows)")
    }

    /// HDF5's 8-byte signature, which starts the superblock.
    static let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Where the superblock starts: byte 0, 512, 1024, 2048, … (HDF5 looks at each), or nil.
    static func signatureOffset(_ data: Data) -> Int? {
        var offset = 0
        while offset + signature.count <= data.count {
            let start = data.startIndex + offset
            if data[start..<start + signature.count].elementsEqual(signature) { return offset }
            offset = offset == 0 ? 512 : offset * 2
        }
        return nil
    }

    /// Creates (or truncates) `diskPath` for writing; errors name `reportedPath` (the destination
    /// when writing through a temporary file). Groups created in it, the root included, track link
    /// creation order, so a reader walks them in the order they were written.
    static func create(_ diskPath: String, reportedAs reportedPath: String) throws -> HDF5File {
        HDF5Library.silenceErrorPrinting()
        let path = reportedPath
        let site = HDF5Site(file: path, object: "/")
        let creation = try site.handle(H5Pcreate(nf_H5P_FILE_CREATE()), .propertyList, "cannot create file creation properties")
        try site.check(H5Pset_link_creation_order(creation.id, UInt32(H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED)),
                       "cannot enable link creation order")
        let access = try accessProperties(site)
        let id = H5Fcreate(diskPath, nf_H5F_ACC_TRUNC(), creation.id, access.id)
        guard id >= 0 else { throw CheckpointError.writeFailed(file: path, reason: "HDF5: \(HDF5Library.takeErrorMessage())") }
        return HDF5File(path: path, handle: HDF5Handle(id, kind: .file), byteCount: 0)
    }

    /// File access without HDF5's file locks. Why: HDF5 flock()s every file it opens and does not
    /// open it close-on-exec, so a child process that any thread starts meanwhile (`Process`,
    /// posix_spawn: the CLI's HDF5 check, tests running tools) inherits the descriptor and keeps
    /// the lock after nanoforge has closed the file; the next open of that file then fails with
    /// "unable to lock file, errno = 11" (seen in the test suite). nanoforge writes through a
    /// temporary file renamed into place (`AtomicFile`) and never opens a file another process is
    /// writing, so the locks protected nothing it relies on.
    private static func accessProperties(_ site: HDF5Site) throws -> HDF5Handle {
        let access = try site.handle(H5Pcreate(nf_H5P_FILE_ACCESS()), .propertyList, "cannot create file access properties")
        try site.check(H5Pset_file_locking(access.id, false, true), "cannot set file locking")
        return access
    }

    /// The root group.
    func root() throws -> HDF5Group {
        let id = H5Gopen2(handle.id, "/", nf_H5P_DEFAULT())
        return HDF5Group(file: self, handle: try site.handle(id, .group, "cannot open the root group"), site: site)
    }

    /// Closes the file now, flushing what was written; throws if HDF5 reports a failure. Every
    /// object opened in the file must be released first, or HDF5 keeps the file open until then.
    func close() throws {
        guard handle.close() >= 0 else { throw site.error("cannot close the file") }
    }
}
