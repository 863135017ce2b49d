import Foundation
import Testing
@testable import NanoCheckpoint
import TestSupport

/// `HDF5CheckpointReader.read(data:source:)` (HDF5's core driver, the fuzz target's entry point)
/// against `read(path:)`, and the native-layout files the HDF5 fuzz target starts from
/// (Fixtures/checkpoints/hdf5, written by `nanoforge export --format hdf5`).
@Suite struct HDF5MemoryReaderTests {
    static let valid = ["hdf5/digits-mlp.h5", "hdf5/digits-mlp-gzip.h5", "hdf5/quickstart-int4.h5",
                        "keras/model.h5", "keras/weights.h5", "keras/model.weights.h5"]
    static let corrupt = ["empty.h5", "text-renamed.h5", "truncated.h5", "wrong-rank-kernel.h5", "wrong-rank-kernel.weights.h5"]

    static func contents(_ path: String) throws -> Data {
        try #require(FileManager.default.contents(atPath: path), "missing \(path)")
    }

    static func expectSame(_ a: TensorStore, _ b: TensorStore) {
        #expect(a.names == b.names)
        #expect(a.metadata == b.metadata)
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.dtype == y.dtype && x.shape == y.shape && x.data == y.data, "\(x.name)")
        }
    }

    @Test(arguments: valid)
    func memoryReadEqualsFileRead(fixture: String) throws {
        let path = RepositoryPaths.fixture("checkpoints/" + fixture)
        let fromFile = try HDF5CheckpointReader.read(path: path)
        let fromMemory = try HDF5CheckpointReader.read(data: try Self.contents(path), source: path)
        #expect(fromMemory.source == path)
        #expect(fromMemory.count > 0)
        Self.expectSame(fromFile, fromMemory)
    }

    /// The same error case, naming the same file, from memory as from disk.
    @Test(arguments: corrupt)
    func memoryReadRefusesWhatFileReadRefuses(fixture: String) throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/" + fixture)
        let fromFile = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(path: path) }
        let fromMemory = #expect(throws: CheckpointError.self) {
            try HDF5CheckpointReader.read(data: try Self.contents(path), source: path)
        }
        func kind(_ error: CheckpointError?) -> String { String(String(describing: error).prefix { $0 != "(" }) }
        #expect(kind(fromMemory) == kind(fromFile), "\(String(describing: fromMemory)) vs \(String(describing: fromFile))")
        #expect(String(describing: fromMemory).contains(path))
    }

    /// The fuzz seeds hold the digits MLP's own tensors (plain and gzip-compressed).
    @Test(arguments: ["hdf5/digits-mlp.h5", "hdf5/digits-mlp-gzip.h5"])
    func seedsHoldTheDigitsModel(fixture: String) throws {
        let source = try CheckpointReader.read(path: RepositoryPaths.fixture("models/digits-mlp/model.safetensors"))
        let seed = try HDF5CheckpointReader.read(path: RepositoryPaths.fixture("checkpoints/" + fixture))
        #expect(seed.names == source.names)
        for tensor in source.tensors {
            let stored = try #require(seed[tensor.name])
            #expect(stored.dtype == tensor.dtype && stored.shape == tensor.shape && stored.data == tensor.data, "\(tensor.name)")
        }
        #expect(seed.metadata["nanoforge.config"] != nil)
    }

    /// Bytes without HDF5's signature at 0, 512, 1024, … are refused before HDF5 sees them; the
    /// signature is found at 512 as HDF5 allows (a user block).
    @Test func signatureIsLookedForWhereHDF5LooksForIt() throws {
        var bytes = Data(repeating: 0, count: 600)
        #expect(HDF5File.signatureOffset(bytes) == nil)
        bytes.replaceSubrange(512..<520, with: HDF5File.signature)
        #expect(HDF5File.signatureOffset(bytes) == 512)
        bytes.replaceSubrange(100..<108, with: HDF5File.signature)
        #expect(HDF5File.signatureOffset(bytes) == 512)
        #expect(HDF5File.signatureOffset(Data(HDF5File.signature.prefix(7))) == nil)
        let error = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(data: Data("not hdf5".utf8), source: "x.h5") }
        guard case .unknownFormat(let file, let reason)? = error else {
            Issue.record("expected unknownFormat, got \(String(describing: error))")
            return
        }
        #expect(file == "x.h5" && reason.contains("no HDF5 signature"))
    }
}
