import Foundation

/// A Keras 3 `.keras` file: a zip archive whose members `config.json` (the model's graph) and
/// `model.weights.h5` (Keras 3's weights layout) Keras writes uncompressed. Read as the store of
/// `model.weights.h5`, with `config.json`'s text as the `model_config` metadata, so the model
/// loads as an `.h5` model file does (the keras_graph family).
///
/// Only what Keras writes is read: stored (uncompressed) members, no ZIP64, no encryption; each
/// member's CRC-32 is checked. The weights are read from memory (HDF5's core driver), so, unlike
/// an `.h5` path, not first in `HDF5Isolation`'s child process.
public enum KerasArchive {
    /// A zip file's first bytes (a local file header).
    public static let magic: [UInt8] = [0x50, 0x4B, 0x03, 0x04]

    public static func read(path: String) throws -> TensorStore {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError.unreadable(file: path, reason: "cannot read")
        }
        let members = try self.members(data, file: path)
        guard let weights = members["model.weights.h5"] else {
            throw CheckpointError.malformedHeader(file: path, reason: "a .keras archive without model.weights.h5 (members: \(members.keys.sorted().joined(separator: ", ")))")
        }
        guard let config = members["config.json"], let text = String(data: config, encoding: .utf8) else {
            throw CheckpointError.malformedHeader(file: path, reason: "a .keras archive without a UTF-8 config.json")
        }
        var store = try HDF5CheckpointReader.read(data: weights, source: path)
        store.metadata["model_config"] = text
        return store
    }

    /// The archive's members by name, each checked against its CRC-32.
    static func members(_ data: Data, file: String) throws -> [String: Data] {
        let bytes = [UInt8](data)
        func fail(_ reason: String) -> CheckpointError { .malformedHeader(file: file, reason: "zip: \(reason)") }
        func u16(_ at: Int) throws -> Int {
            guard at >= 0, at + 2 <= bytes.count else { throw CheckpointError.truncated(file: file, reason: "zip: a field at byte \(at) is past the end") }
            return Int(bytes[at]) | Int(bytes[at + 1]) << 8
        }
        func u32(_ at: Int) throws -> Int { let (low, high) = (try u16(at), try u16(at + 2)); return low | high << 16 }
        // The end-of-central-directory record: the last one within 22 + 65,535 bytes of the end.
        let lowest = Swift.max(0, bytes.count - 22 - 65_535)
        guard let end = stride(from: bytes.count - 22, through: lowest, by: -1).first(where: { i in
            i >= 0 && bytes[i] == 0x50 && bytes[i + 1] == 0x4B && bytes[i + 2] == 0x05 && bytes[i + 3] == 0x06
        }) else { throw fail("no end-of-central-directory record") }
        let count = try u16(end + 10), directory = try u32(end + 16)
        guard count != 0xFFFF, directory != 0xFFFF_FFFF else { throw fail("a ZIP64 archive (nanoforge reads the plain zip Keras writes)") }
        var members: [String: Data] = [:]
        var at = directory
        for _ in 0..<count {
            guard try u32(at) == 0x0201_4B50 else { throw fail("no central directory entry at byte \(at)") }
            let method = try u16(at + 10), crc = try u32(at + 16), size = try u32(at + 20), stored = try u32(at + 24)
            let nameLength = try u16(at + 28), extra = try u16(at + 30), comment = try u16(at + 32), local = try u32(at + 42)
            guard at + 46 + nameLength <= bytes.count else { throw CheckpointError.truncated(file: file, reason: "zip: a member name is past the end") }
            let name = String(decoding: bytes[(at + 46)..<(at + 46 + nameLength)], as: UTF8.self)
            guard method == 0, size == stored else {
                throw fail("member \(name) is compressed (method \(method)); Keras stores its members uncompressed")
            }
            guard try u32(local) == 0x0403_4B50 else { throw fail("member \(name): no local header at byte \(local)") }
            let (localName, localExtra) = (try u16(local + 26), try u16(local + 28))
            let start = local + 30 + localName + localExtra
            guard start + size <= bytes.count else { throw CheckpointError.truncated(file: file, reason: "zip: member \(name) ends past the end of the file") }
            let body = Array(bytes[start..<(start + size)])
            guard CRC32.checksum(body) == UInt32(crc) else { throw fail("member \(name) fails its CRC-32 check") }
            members[name] = Data(body)
            at += 46 + nameLength + extra + comment
        }
        return members
    }
}

/// The zip / PNG CRC-32 (polynomial 0xEDB88320, reflected).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = table[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }
}
