import Foundation

/// One tensor's entry in a GGUF header.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    public let type: GGUFTensorType
    /// The dimensions as GGUF stores them, fastest-varying first (ggml's `ne[0]`, `ne[1]`, …).
    public let dimensions: [Int]
    /// Byte offset from the start of the data section (a multiple of the alignment).
    public let offset: Int
    public let byteCount: Int

    /// The row-major shape nanoforge uses: `dimensions` reversed (`ne = [in, out]` → `[out, in]`).
    public var shape: [Int] { dimensions.reversed() }
    public var elementCount: Int { dimensions.reduce(1, *) }
}

/// A parsed GGUF file (versions 2 and 3): typed metadata, tensor infos, and the memory-mapped
/// data section. Parsing checks the whole header — every count, length, offset, shape product
/// and the alignment — before any tensor byte is touched; tensor data is decoded on request.
public struct GGUFFile: Sendable {
    public static let magic: [UInt8] = Array("GGUF".utf8)
    public static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    public static let maxDimensions = 4

    public let path: String
    public let version: UInt32
    /// Metadata keys in file order.
    public let keys: [String]
    /// Metadata values, typed as stored.
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    /// `general.alignment`, or 32.
    public let alignment: Int
    /// Absolute byte offset of the data section.
    public let dataOffset: Int
    private let bytes: Data
    private let index: [String: Int]
    /// Whether `bytes` is a read-only mapping of the file (`read(path:)`), whose pages can be dropped.
    private var mapped = false

    /// Memory-maps and parses the file at `path`.
    public static func read(path: String) throws -> GGUFFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CheckpointError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        var file = try GGUFFile(data: data, source: path)
        file.mapped = true
        return file
    }

    /// Parses GGUF bytes; `source` names the file in errors.
    public init(data: Data, source: String) throws {
        let header = try data.withUnsafeBytes { try GGUFHeaderParser.parse($0, file: source) }
        path = source
        version = header.version
        keys = header.keys
        metadata = header.metadata
        tensors = header.tensors
        alignment = header.alignment
        dataOffset = header.dataOffset
        bytes = data
        index = Dictionary(uniqueKeysWithValues: header.tensors.enumerated().map { ($1.name, $0) })
    }

    public subscript(key: String) -> GGUFValue? { metadata[key] }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? { index[name].map { tensors[$0] } }

    /// The tensor's stored bytes (a slice of the mapping).
    public func rawData(_ info: GGUFTensorInfo) -> Data {
        let start = bytes.startIndex + dataOffset + info.offset
        return bytes[start..<(start + info.byteCount)]
    }

    /// Drops the mapped pages that lie wholly inside the tensor's bytes from this process's resident
    /// memory (`madvise(MADV_DONTNEED)`; a later read faults them in from the file again). For a
    /// reader that has copied the tensor into a layout of its own, so the peak memory holds one
    /// copy, not two. Does nothing for bytes that are not a file mapping.
    public func releaseResidentPages(_ info: GGUFTensorInfo) {
        guard mapped else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            let start = UInt(bitPattern: base + dataOffset + info.offset), end = start + UInt(info.byteCount)
            let first = (start + UInt(page) - 1) / UInt(page) * UInt(page), last = end / UInt(page) * UInt(page)
            guard last > first else { return }
            _ = madvise(UnsafeMutableRawPointer(bitPattern: first), Int(last - first), MADV_DONTNEED)
        }
    }

    /// The named tensor dequantized to Float32, in row-major order of `info.shape`.
    public func floatValues(_ name: String) throws -> [Float] {
        let data = try float32Data(name)
        return [Float](unsafeUninitializedCapacity: data.count / 4) { out, initialized in
            initialized = data.copyBytes(to: out) / 4
        }
    }

    /// The named tensor dequantized to little-endian Float32 bytes, in row-major order of
    /// `info.shape`. A type nanoforge cannot dequantize is `unsupportedDType` naming the file,
    /// the tensor and the type.
    public func float32Data(_ name: String) throws -> Data {
        guard let info = tensorInfo(name) else { throw CheckpointError.missingTensor(file: path, tensor: name) }
        guard info.type.isReadable else {
            throw CheckpointError.unsupportedDType(file: path, tensor: name, dtype: info.type.name)
        }
        // ne[0] is the fastest dimension, so GGUF's element order already is row-major for the
        // reversed shape: no transposition, only decoding. The header parser checked that the
        // bytes hold whole blocks of this type. x86-64 is little-endian: the Floats are the bytes.
        var out = Data(count: 4 * info.elementCount)
        guard info.elementCount > 0 else { return out }
        rawData(info).withUnsafeBytes { raw in
            out.withUnsafeMutableBytes { dst in
                GGUFBlocks.decode(raw.bindMemory(to: UInt8.self).baseAddress!, type: info.type, count: info.elementCount,
                                  into: dst.bindMemory(to: Float.self).baseAddress!)
            }
        }
        return out
    }

    /// Every tensor as an F32 `StoredTensor` with a row-major shape, and the metadata as text
    /// (strings verbatim, other values as JSON): what `CheckpointReader.read` returns for GGUF.
    /// A tensor of a type nanoforge cannot decode is `unsupportedDType` naming it and its type.
    public func tensorStore() throws -> TensorStore {
        var stored: [StoredTensor] = []
        for info in tensors {
            stored.append(StoredTensor(name: info.name, dtype: .f32, shape: info.shape, data: try float32Data(info.name)))
        }
        let text = metadata.mapValues(\.metadataText)
        return TensorStore(tensors: stored, metadata: text, source: path, format: .gguf)
    }
}
