import Foundation

/// Reads the safetensors format: an 8-byte little-endian header length N, N bytes of JSON
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {…}}`), then the
/// data buffer that the offsets index. Every length, offset and shape product is checked against
/// the file before a byte of tensor data is touched; the file is memory-mapped, not copied.
public enum SafetensorsReader {
    /// Headers larger than this are refused before allocating (the reference library uses 100 MB).
    public static let maxHeaderBytes = 100_000_000

    public static func read(path: String) throws -> TensorStore {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped)
        } catch {
            throw CheckpointError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        return try read(data: data, source: path)
    }

    public static func read(data: Data, source: String) throws -> TensorStore {
        guard data.count >= 8 else {
            throw CheckpointError.truncated(file: source, reason: "\(data.count) bytes, fewer than the 8-byte header length")
        }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(maxHeaderBytes) else {
            throw CheckpointError.malformedHeader(file: source, reason: "header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard headerLength <= UInt64(data.count - 8) else {
            throw CheckpointError.truncated(file: source, reason: "header length \(headerLength) but only \(data.count - 8) bytes follow")
        }
        let headerEnd = 8 + Int(headerLength)
        let headerBytes = [UInt8](data[data.startIndex + 8 ..< data.startIndex + headerEnd])
        let header: JSONValue
        do { header = try JSONParser.parse(headerBytes) } catch let e as JSONParser.Error {
            throw CheckpointError.malformedHeader(file: source, reason: "invalid JSON: \(e.description)")
        }
        guard let members = header.members else {
            throw CheckpointError.malformedHeader(file: source, reason: "the header is not a JSON object")
        }
        let bufferSize = data.count - headerEnd
        var metadata: [String: String] = [:]
        var entries: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        var seen = Set<String>()
        for (name, value) in members {
            guard seen.insert(name).inserted else {
                throw CheckpointError.invalidTensor(file: source, tensor: name, reason: "the name appears twice in the header")
            }
            if name == "__metadata__" {
                guard let fields = value.members else {
                    throw CheckpointError.malformedHeader(file: source, reason: "__metadata__ is not an object")
                }
                for (k, v) in fields {
                    guard let s = v.string else {
                        throw CheckpointError.malformedHeader(file: source, reason: "__metadata__ value for '\(k)' is not a string")
                    }
                    metadata[k] = s
                }
                continue
            }
            entries.append(try entry(name, value, bufferSize: bufferSize, source: source))
        }
        // Tensors may not share bytes.
        let sorted = entries.sorted { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw CheckpointError.invalidTensor(file: source, tensor: b.name,
                                                reason: "bytes \(b.begin)..<\(b.end) overlap tensor '\(a.name)' (\(a.begin)..<\(a.end))")
        }
        let base = data.startIndex + headerEnd
        let tensors = entries.map {
            StoredTensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, data: data[(base + $0.begin)..<(base + $0.end)])
        }
        return TensorStore(tensors: tensors, metadata: metadata, source: source, format: .safetensors)
    }

    static func entry(_ name: String, _ value: JSONValue, bufferSize: Int, source: String) throws
        -> (name: String, dtype: DType, shape: [Int], begin: Int, end: Int) {
        func bad(_ reason: String) -> CheckpointError { .invalidTensor(file: source, tensor: name, reason: reason) }
        guard value.members != nil else { throw bad("header entry is not an object") }
        guard let dtypeName = value["dtype"]?.string else { throw bad("missing or non-string 'dtype'") }
        guard let dtype = DType(rawValue: dtypeName) else {
            throw CheckpointError.unsupportedDType(file: source, tensor: name, dtype: dtypeName)
        }
        guard let dims = value["shape"]?.array else { throw bad("missing or non-array 'shape'") }
        var shape: [Int] = []
        var count = 1
        for d in dims {
            guard let n = d.int, n >= 0 else { throw bad("shape \(value["shape"]!.serialized) has an entry that is not a non-negative integer") }
            shape.append(n)
            let (product, overflow) = count.multipliedReportingOverflow(by: n)
            guard !overflow else { throw bad("shape \(value["shape"]!.serialized) has more elements than fit in memory") }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow else { throw bad("shape \(shape) of \(dtypeName) overflows the byte count") }
        guard let offsets = value["data_offsets"]?.array, offsets.count == 2,
              let begin = offsets[0].int, let end = offsets[1].int else {
            throw bad("'data_offsets' must be two integers")
        }
        guard begin >= 0, begin <= end else { throw bad("data_offsets [\(begin), \(end)] are not ordered") }
        guard end <= bufferSize else {
            throw CheckpointError.truncated(file: source, reason: "tensor '\(name)' ends at byte \(end) of the data buffer, which holds \(bufferSize)")
        }
        guard end - begin == bytes else {
            throw bad("data_offsets span \(end - begin) bytes, but \(dtypeName) \(shape) needs \(bytes)")
        }
        return (name, dtype, shape, begin, end)
    }
}
