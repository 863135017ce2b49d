import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// Malformed GGUF files are rejected with typed errors naming the file — the committed corpus
/// (Fixtures/checkpoints/corrupt/gguf, from scripts/fixtures/make_gguf_fixtures.py) and variants
/// of a valid file built here — and no prefix or byte flip of a valid file traps.
@Suite struct GGUFRobustnessTests {
    /// A small GGUF v3 file laid out like the fixture generator's: metadata
    /// `general.architecture = "test"` (plus `general.alignment` when set), one tensor "w".
    struct Bytes {
        var version: UInt32 = 3
        var tensorCount: UInt64 = 1
        var valueLength: UInt64?
        var ne: [UInt64] = [8, 2]
        var nDims: UInt32?
        var type: UInt32 = 0
        var offset: UInt64 = 0
        var alignment: UInt32?
        var dataCount: Int?

        func make() -> Data {
            var out = Data("GGUF".utf8)
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
            func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
            func str(_ s: String, length: UInt64? = nil) { u64(length ?? UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
            u32(version); u64(tensorCount); u64(alignment == nil ? 1 : 2)
            str("general.architecture"); u32(8); str("test", length: valueLength)
            if let alignment { str("general.alignment"); u32(4); u32(alignment) }
            str("w"); u32(nDims ?? UInt32(ne.count)); ne.forEach(u64); u32(type); u64(offset)
            out.append(Data(count: (32 - out.count % 32) % 32))
            let count = dataCount ?? 4 * Int(ne.reduce(1, *))
            out.append(contentsOf: (0..<count).map { UInt8(truncatingIfNeeded: $0) })
            return out
        }
    }

    static func read(_ data: Data, _ name: String = "test.gguf") throws -> TensorStore {
        try withTemporaryDirectory { folder in
            let path = folder + "/" + name
            try data.write(to: URL(fileURLWithPath: path))
            return try CheckpointReader.read(path: path)
        }
    }

    static func caseName(_ error: CheckpointError) -> String { CorruptCheckpointTests.caseName(error) }

    @Test func theValidFileReads() throws {
        let store = try Self.read(Bytes().make())
        #expect(store.names == ["w"] && store["w"]?.shape == [2, 8])
        #expect(store["w"]?.data == Data((0..<64).map { UInt8($0) }))
        #expect(store.metadata == ["general.architecture": "test"])
        // Version 2 has the same layout and reads the same.
        #expect(try Self.read(Bytes(version: 2).make())["w"]?.data == store["w"]?.data)
    }

    /// Each lie gives its error case and message; `contains` is checked in the description.
    @Test(arguments: [
        ("version", Bytes(version: 1), "malformedHeader", "version 1"),
        ("string length", Bytes(valueLength: 1 << 60), "truncated", "claims 1152921504606846976 bytes"),
        ("string length just past end", Bytes(valueLength: 200), "truncated", "claims 200 bytes"),
        ("tensor count", Bytes(tensorCount: 1 << 60), "malformedHeader", "tensor count is 1152921504606846976"),
        ("n_dims 5", Bytes(ne: [8, 2, 1, 1, 1]), "invalidTensor", "n_dims is 5"),
        ("n_dims huge", Bytes(nDims: .max), "invalidTensor", "n_dims is 4294967295"),
        ("dimension past Int", Bytes(ne: [1 << 63, 1], dataCount: 0), "invalidTensor", "does not fit"),
        ("shape overflow", Bytes(ne: [1 << 32, 1 << 32], dataCount: 0), "invalidTensor", "64 bits"),
        ("1 TiB tensor", Bytes(ne: [1 << 28, 1 << 10], dataCount: 0), "truncated", "1099511627776"),
        ("offset past end", Bytes(offset: 4096), "truncated", "spans bytes 4096..<4160"),
        ("offset overflow", Bytes(offset: UInt64(Int.max) - 31), "truncated", "spans bytes"),
        ("offset misaligned", Bytes(offset: 4), "invalidTensor", "not a multiple of the alignment 32"),
        ("alignment not a power of two", Bytes(alignment: 24), "malformedHeader", "not a power of two"),
        ("alignment zero", Bytes(alignment: 0), "malformedHeader", "general.alignment is 0"),
        ("unknown type", Bytes(type: 99), "unsupportedDType", "type id 99"),
        ("unsupported type", Bytes(ne: [256, 1], type: 23, dataCount: 136), "unsupportedDType", "IQ4_XS"),
        ("block row", Bytes(ne: [16, 2], type: 8, dataCount: 34), "invalidTensor", "multiple of the 32-element block"),
        ("short data", Bytes(dataCount: 60), "truncated", "spans bytes 0..<64"),
    ] as [(String, Bytes, String, String)])
    func lieIsRejected(what: String, bytes: Bytes, expectedCase: String, contains: String) throws {
        do {
            let store = try Self.read(bytes.make())
            Issue.record("\(what): read as \(store.names)")
        } catch let error as CheckpointError {
            #expect(Self.caseName(error) == expectedCase, "\(what): \(error)")
            #expect(error.description.contains(contains), "\(what): '\(error)' lacks '\(contains)'")
            #expect(error.description.contains("test.gguf: "), "\(what): \(error)")
        }
    }

    /// Errors about one tensor carry its name in the case.
    @Test func tensorErrorsNameTheTensor() throws {
        for bytes in [Bytes(ne: [8, 2, 1, 1, 1]), Bytes(type: 99), Bytes(offset: 4)] {
            #expect { try Self.read(bytes.make()) } throws: { error in
                switch error as? CheckpointError {
                case .invalidTensor(_, let t, _), .unsupportedDType(_, let t, _): return t == "w"
                default: return false
                }
            }
        }
    }

    /// `general.alignment` stored as UINT8 (byte 93 is its value type) is named by type, not a crash
    /// (describing the type once recursed without end); an empty tensor whose data section would
    /// start past the end of the file is `truncated`, not a slice out of range.
    @Test func regressionsFromByteFlips() throws {
        var data = Bytes(alignment: 64).make()
        data[93] = 0
        #expect { try Self.read(data) } throws: { error in
            guard case .malformedHeader(_, let reason) = error as? CheckpointError else { return false }
            return reason.contains("general.alignment is UINT8")
        }
        let empty = Bytes(ne: [0, 2], dataCount: 0).make().prefix(109)
        #expect { try Self.read(empty) } throws: { error in
            guard case .truncated(_, let reason) = error as? CheckpointError else { return false }
            return reason.contains("past the end")
        }
    }

    /// Every prefix of a valid file with arrays and several tensor types is an error, never a trap.
    @Test func everyPrefixIsRejected() throws {
        let full = Bytes().make()
        for n in 0..<full.count {
            #expect(throws: CheckpointError.self, "prefix of \(n) bytes") { try GGUFFile(data: full.prefix(n), source: "p.gguf").tensorStore() }
        }
    }

    /// Random single-byte changes in the header either read or throw `CheckpointError`.
    @Test func byteFlipsNeverTrap() throws {
        let valid = Bytes(alignment: 64).make()
        var rng = RandomGenerator(seed: 5)
        var rejected = 0
        for _ in 0..<3000 {
            var data = valid
            let i = Int(rng.uniform(0, Float(96)))
            data[i] = UInt8(truncatingIfNeeded: Int(rng.uniform(0, 256)))
            do { _ = try GGUFFile(data: data, source: "f.gguf").tensorStore() } catch is CheckpointError { rejected += 1 }
        }
        #expect(rejected > 100)
    }

    // MARK: The committed corpus

    struct Expectation: Decodable {
        let `case`: String
        let contains: String
        let why: String
    }

    static let folder = RepositoryPaths.fixture("checkpoints/corrupt/gguf")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".gguf") }.sorted()

    static func expectations() throws -> [String: Expectation] {
        try JSONDecoder().decode([String: Expectation].self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/expected-errors.json")))
    }

    @Test func corpusAndExpectationsMatch() throws {
        #expect(Self.files.count >= 10)
        #expect(Set(Self.files) == Set(try Self.expectations().keys))
    }

    @Test(arguments: files)
    func corruptFixtureIsRejected(file: String) throws {
        let expected = try #require(try Self.expectations()[file])
        let path = Self.folder + "/" + file
        do {
            let store = try CheckpointReader.read(path: path)
            Issue.record("\(file) (\(expected.why)) was read as \(store.names)")
        } catch let error as CheckpointError {
            #expect(Self.caseName(error) == expected.case, "\(file): \(error)")
            #expect(error.description.contains(expected.contains), "\(file): '\(error)' lacks '\(expected.contains)'")
            #expect(error.file == path)
        }
    }
}
