import Foundation
import NanoCheckpoint
import NanoTensor
import Testing
import TestSupport

/// The golden safetensors files under Fixtures/checkpoints/safetensors and their expected.json,
/// written by scripts/fixtures/make_safetensors_fixtures.py.
enum SafetensorsFixtures {
    struct ExpectedFile: Decodable {
        let metadata: [String: String]
        let tensors: [String: ExpectedTensor]
    }

    /// Floats as the hex bit patterns of the Float32 each element decodes to; integers as values.
    struct ExpectedTensor: Decodable {
        let dtype: String
        let shape: [Int]
        let f32_bits: [String]?
        let values: [Int64]?

        var bits: [UInt32]? { f32_bits?.map { UInt32($0.dropFirst(2), radix: 16) ?? 0xDEAD_BEEF } }
    }

    static let folder = RepositoryPaths.fixture("checkpoints/safetensors")
    static let corruptFolder = RepositoryPaths.fixture("checkpoints/corrupt")

    /// One file per dtype, then the multi-tensor file with metadata.
    static let files = ["f32", "f16", "bf16", "i8", "u8", "i16", "i32", "i64", "bool", "multi"].map { $0 + ".safetensors" }

    static func path(_ file: String) -> String { folder + "/" + file }

    static func expected() throws -> [String: ExpectedFile] {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))
        return try JSONDecoder().decode([String: ExpectedFile].self, from: data)
    }
}

/// A fresh folder under the system temporary folder, removed by `remove()`.
struct TemporaryFolder {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("nanoforge-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }
    func contents() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: path).sorted() }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Checks every tensor of `store` against an expected.json entry: names, dtype, shape, and the
/// values bit for bit (floats through `floatTensor()`, integers through `integers()` as well).
func expectStore(_ store: TensorStore, matches expected: SafetensorsFixtures.ExpectedFile,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(Set(store.names) == Set(expected.tensors.keys), sourceLocation: sourceLocation)
    #expect(store.metadata == expected.metadata, sourceLocation: sourceLocation)
    for (name, want) in expected.tensors {
        guard let t = store[name] else { continue }
        #expect(t.dtype.rawValue == want.dtype, "\(name)", sourceLocation: sourceLocation)
        #expect(t.shape == want.shape, "\(name)", sourceLocation: sourceLocation)
        let floats = t.floatTensor()
        #expect(floats.shape == want.shape, "\(name)", sourceLocation: sourceLocation)
        if let bits = want.bits {
            let got = floats.scalars.map(\.bitPattern)
            #expect(got == bits, "\(name)", sourceLocation: sourceLocation)
        }
        if let values = want.values {
            #expect(t.integers() == values, "\(name)", sourceLocation: sourceLocation)
            #expect(floats.scalars == values.map { Float($0) }, "\(name)", sourceLocation: sourceLocation)
        }
    }
}

/// Sample tensors in every dtype, with values that stress each one (extremes, signed zero,
/// subnormals, infinities, NaN), shared by the writer and interop tests.
enum DTypeSamples {
    static let floatValues: [Float] = [0, -0.0, 1, -2.5, 1.0 / 3, 65504, -65504, 0x1p-14, 0x1p-24, -0x1p-24,
                                       .infinity, -.infinity, .nan, 3.0e38, -0x1p-133, 0.1]

    static func integerValues(_ dtype: DType) -> [Int64] {
        switch dtype {
        case .i8: return [Int64(Int8.min), Int64(Int8.max), -1, 0, 1, 42]
        case .u8: return [0, 1, 127, 128, 254, 255]
        case .i16: return [Int64(Int16.min), Int64(Int16.max), -1, 0, 1, -300]
        case .i32: return [Int64(Int32.min), Int64(Int32.max), -1, 0, 1, 70_000]
        case .i64: return [.min, .max, -1, 0, 1, 1 << 53 + 1]
        case .bool: return [1, 0, 0, 1, 1, 0]
        default: return []
        }
    }

    /// A tensor of `dtype` named after it. Floats pass through `StoredTensor.encoding`, so F16 and
    /// BF16 hold the rounded values.
    static func tensor(_ dtype: DType, name: String? = nil) -> StoredTensor {
        let name = name ?? "t_" + dtype.rawValue.lowercased()
        if dtype.isFloatingPoint {
            return StoredTensor.encoding(Tensor(shape: [4, 4], scalars: floatValues), name: name, as: dtype)
        }
        return StoredTensor.encoding(integers: integerValues(dtype), shape: [2, 3], name: name, as: dtype)
    }

    /// One tensor per dtype plus a scalar and an empty tensor, and metadata with the native config.
    static func store() -> TensorStore {
        var store = TensorStore(tensors: DType.allCases.map { tensor($0) })
        store.insert(StoredTensor.encoding(Tensor(shape: [], scalars: [7.5]), name: "scalar"))
        store.insert(StoredTensor.encoding(integers: [], shape: [0, 3], name: "empty", as: .i32))
        store.metadata = ["nanoforge.config": #"{"architecture":"mlp_classifier","config":{"classes":2}}"#,
                          "format": "pt", "note": "ünïcödé \"quoted\"\n"]
        return store
    }
}
