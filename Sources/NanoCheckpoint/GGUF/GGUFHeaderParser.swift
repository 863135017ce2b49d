/// Parses and validates a GGUF header: magic, version, counts, metadata, tensor infos, alignment
/// and the placement of every tensor in the data section. Layout (all little-endian):
/// `"GGUF"`, uint32 version, uint64 tensor count, uint64 metadata count, the metadata
/// (string key, uint32 type, value), the tensor infos (string name, uint32 n_dims,
/// uint64 ne[n_dims], uint32 type, uint64 offset), padding to the alignment, the data.
enum GGUFHeaderParser {
    struct Header {
        var version: UInt32
        var keys: [String]
        var metadata: [String: GGUFValue]
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    /// The smallest tensor info: name length 8, n_dims 4, type 4, offset 8.
    static let minimumTensorInfoSize = 24
    /// The smallest metadata entry: key length 8, value type 4, a 1-byte value.
    static let minimumEntrySize = 13

    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws -> Header {
        var cursor = GGUFCursor(bytes, file: file)
        try cursor.require(4, "the GGUF magic")
        guard Array(bytes[0..<4]) == GGUFFile.magic else {
            throw CheckpointError.unknownFormat(file: file, reason: "no GGUF magic at the start")
        }
        _ = try cursor.load(UInt32.self, "the magic")
        let version = try cursor.load(UInt32.self, "the version")
        guard version == 2 || version == 3 else {
            throw CheckpointError.malformedHeader(file: file, reason: "GGUF version \(version); nanoforge reads versions 2 and 3 (little-endian)")
        }
        let rawTensorCount = try cursor.load(UInt64.self, "the tensor count")
        let entryCount = try cursor.count("the metadata count", minimumSize: minimumEntrySize)
        var keys: [String] = [], metadata: [String: GGUFValue] = [:]
        for i in 0..<entryCount {
            let key = try cursor.string("metadata key #\(i)")
            let type = try cursor.valueType("metadata '\(key)'")
            let value = try cursor.value(type, "metadata '\(key)'")
            guard metadata.updateValue(value, forKey: key) == nil else {
                throw CheckpointError.malformedHeader(file: file, reason: "metadata key '\(key)' appears twice")
            }
            keys.append(key)
        }
        // The tensor count is checked against the bytes left after the metadata, where the infos live.
        let tensorLimit = UInt64(cursor.remaining / minimumTensorInfoSize)
        guard rawTensorCount <= tensorLimit else {
            throw CheckpointError.malformedHeader(file: file, reason: "the tensor count is \(rawTensorCount), but the \(cursor.remaining) bytes after the metadata hold at most \(tensorLimit) tensor infos")
        }
        let alignment = try self.alignment(metadata["general.alignment"], file: file)
        var tensors: [GGUFTensorInfo] = []
        var names = Set<String>()
        for i in 0..<Int(rawTensorCount) {
            let info = try tensorInfo(&cursor, number: i, alignment: alignment, file: file)
            guard names.insert(info.name).inserted else {
                throw CheckpointError.invalidTensor(file: file, tensor: info.name, reason: "the name appears twice in the header")
            }
            tensors.append(info)
        }
        cursor.align(alignment)
        let dataOffset = cursor.offset
        if !tensors.isEmpty, dataOffset > bytes.count {
            throw CheckpointError.truncated(file: file, reason: "the data section starts at offset \(dataOffset), past the end of the \(bytes.count)-byte file")
        }
        let dataSize = bytes.count - min(dataOffset, bytes.count)
        try checkPlacement(tensors, dataSize: dataSize, dataOffset: dataOffset, file: file)
        return Header(version: version, keys: keys, metadata: metadata, tensors: tensors, alignment: alignment, dataOffset: dataOffset)
    }

    /// `general.alignment`: a uint32 power of two (llama.cpp's rule), 32 when absent.
    static func alignment(_ value: GGUFValue?, file: String) throws -> Int {
        guard let value else { return GGUFFile.defaultAlignment }
        guard case .uint32(let a) = value else {
            throw CheckpointError.malformedHeader(file: file, reason: "general.alignment is \(value.type), not UINT32")
        }
        guard a > 0, a & (a - 1) == 0 else {
            throw CheckpointError.malformedHeader(file: file, reason: "general.alignment is \(a), not a power of two")
        }
        return Int(a)
    }

    static func tensorInfo(_ cursor: inout GGUFCursor, number i: Int, alignment: Int, file: String) throws -> GGUFTensorInfo {
        let name = try cursor.string("the name of tensor #\(i)")
        func bad(_ reason: String) -> CheckpointError { .invalidTensor(file: file, tensor: name, reason: reason) }
        let rank = try cursor.load(UInt32.self, "n_dims of tensor '\(name)'")
        guard rank <= GGUFFile.maxDimensions else { throw bad("n_dims is \(rank); GGUF allows at most \(GGUFFile.maxDimensions)") }
        var dimensions: [Int] = [], elements = 1
        for _ in 0..<Int(rank) {
            let raw = try cursor.load(UInt64.self, "the dimensions of tensor '\(name)'")
            guard let d = Int(exactly: raw) else { throw bad("dimension \(raw) does not fit a signed 64-bit integer") }
            dimensions.append(d)
            let (product, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("the shape (ne = \(dimensions)…) has more elements than fit in 64 bits") }
            elements = product
        }
        let type = GGUFTensorType(rawValue: try cursor.load(UInt32.self, "the type of tensor '\(name)'"))
        guard type.isKnown else { throw CheckpointError.unsupportedDType(file: file, tensor: name, dtype: type.name) }
        let rawOffset = try cursor.load(UInt64.self, "the offset of tensor '\(name)'")
        guard let offset = Int(exactly: rawOffset) else { throw bad("offset \(rawOffset) does not fit a signed 64-bit integer") }
        guard offset % alignment == 0 else { throw bad("offset \(offset) is not a multiple of the alignment \(alignment)") }
        guard let byteCount = type.byteCount(elements: elements, rowLength: dimensions.first ?? 1) else {
            throw bad("ne = \(dimensions) of \(type.name): the row length must be a multiple of the \(type.blockSize)-element block and the size must fit in 64 bits")
        }
        return GGUFTensorInfo(name: name, type: type, dimensions: dimensions, offset: offset, byteCount: byteCount)
    }

    /// Every tensor lies inside the data section and no two share bytes.
    static func checkPlacement(_ tensors: [GGUFTensorInfo], dataSize: Int, dataOffset: Int, file: String) throws {
        for t in tensors {
            let (end, overflow) = t.offset.addingReportingOverflow(t.byteCount)
            guard !overflow, end <= dataSize else {
                throw CheckpointError.truncated(file: file, reason: "tensor '\(t.name)' (\(t.type.name), shape \(t.shape)) spans bytes \(t.offset)..<\(overflow ? "∞" : String(end)) of the data section at offset \(dataOffset), which holds \(dataSize)")
            }
        }
        let sorted = tensors.sorted { ($0.offset, $0.byteCount) < ($1.offset, $1.byteCount) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.offset < a.offset + a.byteCount {
            throw CheckpointError.invalidTensor(file: file, tensor: b.name,
                                                reason: "bytes \(b.offset)..<\(b.offset + b.byteCount) overlap tensor '\(a.name)' (\(a.offset)..<\(a.offset + a.byteCount))")
        }
    }
}
