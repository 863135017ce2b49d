import Foundation
import NanoCheckpoint

/// llama.cpp's imatrix files, as the pinned llama.cpp reads them (common/imatrix-loader.cpp, used by
/// `llama-quantize --imatrix` and `llama-imatrix --in-file`) and `llama-imatrix` writes them
/// (tools/imatrix/imatrix.cpp):
///
/// - GGUF (the default output): per tensor NAME, F32 tensors `NAME.in_sum2` [matrices, columns]
///   (the raw Σx²) and `NAME.counts` [matrices, 1] (tokens, as floats); metadata
///   `general.type` = "imatrix", `imatrix.datasets` (array of strings), `imatrix.chunk_count` and
///   `imatrix.chunk_size` (UINT32). llama-quantize refuses a GGUF imatrix without the three
///   `imatrix.*` keys. Written by `ImportanceMatrix.ggufWriter()` (NanoExport).
/// - legacy `.dat` (`--output-format dat`), little-endian: int32 entry count; per entry int32 name
///   length, the name, int32 ncall, int32 value count, the values as float32 ((Σx² / tokens)·ncall);
///   then, optionally, int32 chunk count and an int32-length-prefixed data set name.
///
/// `read(path:)` tells them apart as the loader does (a file that is not GGUF is legacy).
extension ImportanceMatrix {
    public static let ggufInSum2Suffix = ".in_sum2"
    public static let ggufCountsSuffix = ".counts"
    public static let datasetsKey = "imatrix.datasets"
    public static let chunkCountKey = "imatrix.chunk_count"
    public static let chunkSizeKey = "imatrix.chunk_size"

    /// Reads a GGUF or legacy imatrix file. Errors are `CheckpointError`s naming the file and the
    /// tensor or field.
    public static func read(path: String) throws -> ImportanceMatrix {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CheckpointError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        if data.starts(with: GGUFFile.magic) { return try ImportanceMatrix(gguf: try GGUFFile(data: data, source: path)) }
        return try ImportanceMatrix(legacy: data, source: path)
    }

    /// The statistics of a GGUF imatrix file.
    public init(gguf file: GGUFFile) throws {
        let path = file.path
        func field(_ key: String) throws -> GGUFValue {
            guard let value = file[key] else {
                throw CheckpointError.invalidConfig(file: path, field: key, reason: "missing (llama-quantize refuses an imatrix GGUF without it)")
            }
            return value
        }
        guard let datasets = try field(Self.datasetsKey).elements?.map({ $0.string }), !datasets.contains(nil) else {
            throw CheckpointError.invalidConfig(file: path, field: Self.datasetsKey, reason: "must be an array of strings")
        }
        guard let chunkCount = try field(Self.chunkCountKey).integer, chunkCount >= 0 else {
            throw CheckpointError.invalidConfig(file: path, field: Self.chunkCountKey, reason: "must be a non-negative integer")
        }
        guard let chunkSize = try field(Self.chunkSizeKey).integer, chunkSize >= 0 else {
            throw CheckpointError.invalidConfig(file: path, field: Self.chunkSizeKey, reason: "must be a non-negative integer")
        }
        var entries: [String: Entry] = [:]
        for info in file.tensors where info.name.hasSuffix(Self.ggufInSum2Suffix) || info.name.hasSuffix(Self.ggufCountsSuffix) {
            let isSums = info.name.hasSuffix(Self.ggufInSum2Suffix)
            let name = String(info.name.dropLast(isSums ? Self.ggufInSum2Suffix.count : Self.ggufCountsSuffix.count))
            guard info.type == .f32 else {
                throw CheckpointError.unsupportedDType(file: path, tensor: info.name, dtype: info.type.name + " (imatrix sums and counts are F32)")
            }
            guard entries[name] == nil else { continue }
            let sumsName = name + Self.ggufInSum2Suffix, countsName = name + Self.ggufCountsSuffix
            guard let sumsInfo = file.tensorInfo(sumsName) else { throw CheckpointError.missingTensor(file: path, tensor: sumsName) }
            guard let countsInfo = file.tensorInfo(countsName) else { throw CheckpointError.missingTensor(file: path, tensor: countsName) }
            let sums = try file.floatValues(sumsName), rawCounts = try file.floatValues(countsName)
            guard !rawCounts.isEmpty, sums.count % rawCounts.count == 0, sumsInfo.type == .f32, countsInfo.type == .f32 else {
                throw CheckpointError.shapeMismatch(file: path, tensor: sumsName, expected: [rawCounts.count, sums.count / Swift.max(1, rawCounts.count)],
                                                    found: sumsInfo.shape)
            }
            if let bad = sums.firstIndex(where: { !($0.isFinite && $0 >= 0) }) {
                throw CheckpointError.invalidTensor(file: path, tensor: sumsName, reason: "value \(bad) is \(sums[bad]); sums of squares are finite and ≥ 0")
            }
            // The loader rounds the float counts to the nearest integer (std::lround).
            let counts = rawCounts.map { $0.isFinite && $0 >= 0 && $0 < 9e18 ? Int($0.rounded()) : nil }
            guard !counts.contains(nil) else {
                throw CheckpointError.invalidTensor(file: path, tensor: countsName, reason: "token counts must be finite and ≥ 0")
            }
            entries[name] = Entry(sums: sums, counts: counts.map { $0! })
        }
        guard !entries.isEmpty else {
            throw CheckpointError.invalidTensor(file: path, tensor: "*\(Self.ggufInSum2Suffix)", reason: "no data: the file holds no NAME.in_sum2 / NAME.counts pair")
        }
        self.init(entries: entries, datasets: datasets.map { $0! }, chunkCount: chunkCount, chunkSize: chunkSize)
    }

    /// The statistics of a legacy `.dat` imatrix file's bytes; `source` names it in errors.
    public init(legacy data: Data, source: String) throws {
        var cursor = LegacyCursor(data: data, file: source)
        let n = try cursor.int32("the entry count")
        guard n >= 1 else { throw CheckpointError.malformedHeader(file: source, reason: "the entry count is \(n): no data") }
        var entries: [String: Entry] = [:]
        for i in 0..<Int(n) {
            let length = try cursor.int32("the name length of entry \(i)")
            let name = try cursor.string(Int(length), "the name of entry \(i)")
            let ncall = try cursor.int32("the ncall of '\(name)'")
            let nval = try cursor.int32("the value count of '\(name)'")
            guard nval >= 1 else { throw CheckpointError.invalidTensor(file: source, tensor: name, reason: "\(nval) values") }
            let values = try cursor.floats(Int(nval), "the values of '\(name)'")
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw CheckpointError.invalidTensor(file: source, tensor: name, reason: "value \(bad) is \(values[bad])")
            }
            entries[name] = Entry(sums: values, counts: [Int(ncall)])
        }
        var chunkCount = 0
        var datasets: [String] = []
        if cursor.remaining > 0 {
            chunkCount = Int(try cursor.int32("the chunk count"))
            if cursor.remaining >= 4 {
                let length = try cursor.int32("the data set name length")
                if length > 0 { datasets.append(try cursor.string(Int(length), "the data set name")) }
            }
        }
        self.init(entries: entries, datasets: datasets, chunkCount: chunkCount, chunkSize: 0, isLegacy: true)
    }

    /// The legacy `.dat` bytes of this matrix, as `llama-imatrix --output-format dat` writes them
    /// (`save_imatrix_legacy`): entries in name order, each tensor's values (sums / count)·ncall
    /// with ncall = ⌈max count / chunkSize⌉ (1 and count 1 for a matrix no token reached), then
    /// chunkCount and the last data set name. Needs a positive `chunkSize` for a raw matrix.
    public func legacyData(path: String = "<imatrix>") throws -> Data {
        var out = Data()
        func int32(_ v: Int, _ what: String) throws {
            guard let x = Int32(exactly: v) else { throw CheckpointError.writeFailed(file: path, reason: "\(what) \(v) exceeds int32") }
            out.appendLittleEndianInt32(x)
        }
        let stored = names.filter { entries[$0]!.counts.contains { $0 != 0 } || isLegacy }
        try int32(stored.count, "the entry count")
        for name in stored {
            let entry = entries[name]!
            let utf8 = Array(name.utf8)
            try int32(utf8.count, "the name length")
            out.append(contentsOf: utf8)
            var values = entry.sums
            let ncall: Int
            if isLegacy {
                ncall = entry.counts.first ?? 0
            } else {
                guard chunkSize > 0 else {
                    throw CheckpointError.writeFailed(file: path, reason: "the legacy format needs a positive chunk size (imatrix.chunk_size), found \(chunkSize)")
                }
                ncall = (entry.counts.max()! + chunkSize - 1) / chunkSize
                let n = entry.columns
                for i in values.indices {
                    var count = Float(entry.counts[i / n]), value = values[i]
                    if count == 0 { value = 1; count = 1 }
                    values[i] = (value / count) * Float(ncall)
                }
            }
            try int32(ncall, "ncall of '\(name)'")
            try int32(values.count, "the value count of '\(name)'")
            for v in values { out.appendLittleEndianInt32(Int32(bitPattern: v.bitPattern)) }
        }
        try int32(chunkCount, "the chunk count")
        let dataset = Array((datasets.last ?? "").utf8)
        try int32(dataset.count, "the data set name length")
        out.append(contentsOf: dataset)
        return out
    }
}

/// A bounds-checked little-endian reader over a legacy imatrix file.
private struct LegacyCursor {
    let data: Data
    let file: String
    var offset = 0

    init(data: Data, file: String) { self.data = data; self.file = file }

    var remaining: Int { data.count - offset }

    mutating func take(_ count: Int, _ what: String) throws -> Data {
        guard count >= 0, count <= remaining else {
            throw CheckpointError.truncated(file: file, reason: "\(what) needs \(count) bytes at offset \(offset), but the file has \(remaining) left")
        }
        defer { offset += count }
        let start = data.startIndex + offset
        return data[start..<(start + count)]
    }

    mutating func int32(_ what: String) throws -> Int32 {
        let bytes = try take(4, what)
        return bytes.reversed().reduce(Int32(0)) { $0 << 8 | Int32($1) }
    }

    mutating func string(_ count: Int, _ what: String) throws -> String {
        let bytes = try take(count, what)
        guard let s = String(data: bytes, encoding: .utf8) else {
            throw CheckpointError.malformedHeader(file: file, reason: "\(what) at offset \(offset - count) is not UTF-8")
        }
        return s
    }

    mutating func floats(_ count: Int, _ what: String) throws -> [Float] {
        guard count <= remaining / 4 else {
            throw CheckpointError.truncated(file: file, reason: "\(what) needs \(4 * count) bytes at offset \(offset), but the file has \(remaining) left")
        }
        let bytes = try take(4 * count, what)
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            initialized = bytes.copyBytes(to: out) / 4
        }
    }
}

private extension Data {
    mutating func appendLittleEndianInt32(_ v: Int32) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }
}
