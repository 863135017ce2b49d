import Foundation
import Testing
@testable import NanoCheckpoint
import TestSupport

/// Keras 2 and Keras 3 files (Fixtures/checkpoints/keras, from
/// scripts/fixtures/make_keras_fixtures.py) and the corrupt HDF5 fixtures.
@Suite struct HDF5ReaderTests {
    /// The Dense weights in nanoforge's [out, in] convention, from expected.json.
    struct Expected {
        let tensors: [(name: String, shape: [Int], values: [Float])]
        let keras2Metadata: [String: String]
    }

    static func expected() throws -> Expected {
        let path = RepositoryPaths.fixture("checkpoints/keras/expected.json")
        let data = try #require(FileManager.default.contents(atPath: path), "missing \(path)")
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tensors = try #require(json["tensors"] as? [String: [String: Any]])
        let order = ["dense.weight", "dense.bias", "dense_1.weight", "dense_1.bias"]
        #expect(Set(tensors.keys) == Set(order))
        return Expected(
            tensors: try order.map { name in
                let entry = try #require(tensors[name])
                let shape = try #require(entry["shape"] as? [Int])
                let values = try #require(entry["values"] as? [Double]).map { Float($0) }
                return (name, shape, values)
            },
            keras2Metadata: try #require(json["keras2_metadata"] as? [String: String]))
    }

    @Test(arguments: [
        ("checkpoints/keras/model.h5", HDF5CheckpointReader.Layout.keras2),
        ("checkpoints/keras/weights.h5", .keras2),
        ("checkpoints/keras/model.weights.h5", .keras3),
    ])
    func kerasDenseWeightsAreTransposed(fixture: String, layout: HDF5CheckpointReader.Layout) throws {
        let path = RepositoryPaths.fixture(fixture)
        let expected = try Self.expected()
        #expect(try HDF5CheckpointReader.layout(path: path) == layout)
        for store in [try HDF5CheckpointReader.read(path: path), try CheckpointReader.read(path: path)] {
            #expect(store.names == expected.tensors.map(\.name))
            for (name, shape, values) in expected.tensors {
                let tensor = try #require(store[name])
                #expect(tensor.dtype == .f32)
                #expect(tensor.shape == shape, "\(name)")
                #expect(tensor.floatTensor().scalars == values, "\(name)")
            }
            if layout == .keras2 {
                for (key, value) in expected.keras2Metadata { #expect(store.metadata[key] == value, "\(key)") }
            }
        }
    }

    @Test func keras2ModelConfigIsKeptAsMetadata() throws {
        let store = try HDF5CheckpointReader.read(path: RepositoryPaths.fixture("checkpoints/keras/model.h5"))
        let config = try #require(store.metadata["model_config"])
        #expect(try Keras2Layout.layerClasses(config, file: "") == ["dense_input": "InputLayer", "dense": "Dense", "dropout": "Dropout", "dense_1": "Dense"])
    }

    @Test func kerasVariableNames() {
        #expect(Keras2Layout.variablePath("dense/kernel:0") == ["dense", "kernel"])
        #expect(Keras2Layout.variablePath("dense/bias") == ["dense", "bias"])
        #expect(Keras2Layout.variablePath("seq/dense_1/kernel:12") == ["seq", "dense_1", "kernel"])
        #expect(Keras2Layout.variablePath("odd:name") == ["odd:name"])
    }

    @Test func transposeSwapsRowsAndColumns() {
        let data = HDF5TestData.littleEndian([UInt16](0..<6))  // [[0, 1, 2], [3, 4, 5]]
        let t = KerasLayout.transpose(data, rows: 2, columns: 3, elementSize: 2)
        #expect(t == HDF5TestData.littleEndian([UInt16](arrayLiteral: 0, 3, 1, 4, 2, 5)))
        #expect(KerasLayout.transpose(Data(), rows: 0, columns: 4, elementSize: 4) == Data())
        let triples = Data((0..<18).map { UInt8($0) })  // 3-byte elements: [[0, 1, 2], [3, 4, 5]]
        #expect(KerasLayout.transpose(triples, rows: 2, columns: 3, elementSize: 3)
                == Data([0, 1, 2, 9, 10, 11, 3, 4, 5, 12, 13, 14, 6, 7, 8, 15, 16, 17]))
    }

    // MARK: Corrupt files

    @Test(arguments: ["wrong-rank-kernel.h5", "wrong-rank-kernel.weights.h5"])
    func denseKernelOfWrongRankIsRefused(name: String) throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/" + name)
        for read in [HDF5CheckpointReader.read, CheckpointReader.read] {
            let error = #expect(throws: CheckpointError.self) { try read(path) }
            guard case .invalidTensor(let file, let tensor, let reason)? = error else {
                Issue.record("expected invalidTensor, got \(String(describing: error))")
                continue
            }
            #expect(file == path)
            #expect(tensor == "dense.weight")
            #expect(reason.contains("rank 3 (shape [2, 4, 3])"), "\(reason)")
        }
    }

    @Test func textFileRenamedH5IsNotHDF5() throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/text-renamed.h5")
        let direct = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(path: path) }
        guard case .unknownFormat(let file, let reason)? = direct else {
            Issue.record("expected unknownFormat, got \(String(describing: direct))")
            return
        }
        #expect(file == path)
        #expect(reason.contains("no HDF5 signature"))
        let detected = #expect(throws: CheckpointError.self) { try CheckpointReader.read(path: path) }
        #expect(detected?.file == path)
        if case .unknownFormat? = detected {} else { Issue.record("expected unknownFormat, got \(String(describing: detected))") }
    }

    @Test func emptyFileIsRefused() throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/empty.h5")
        #expect(throws: CheckpointError.unknownFormat(file: path, reason: "the file is empty")) { try HDF5CheckpointReader.read(path: path) }
        #expect(throws: CheckpointError.unknownFormat(file: path, reason: "the file is empty")) { try CheckpointReader.read(path: path) }
    }

    @Test func truncatedFileIsRefused() throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/truncated.h5")
        for read in [HDF5CheckpointReader.read, CheckpointReader.read] {
            let error = #expect(throws: CheckpointError.self) { try read(path) }
            guard case .truncated(let file, let reason)? = error else {
                Issue.record("expected truncated, got \(String(describing: error))")
                continue
            }
            #expect(file == path)
            #expect(reason.contains("7604 bytes on disk"), "\(reason)")
        }
    }

    /// keras/model.h5 cut at other structural boundaries (scripts/fixtures/make_keras_fixtures.py):
    /// inside the superblock HDF5 cannot open the file; past it, the superblock's end-of-file
    /// address gives the truncation away.
    @Test(arguments: [("truncated-signature.h5", "cannot open"), ("truncated-superblock.h5", "cannot open"),
                      ("truncated-root-header.h5", "120 bytes on disk"), ("truncated-data.h5", "9340 bytes on disk")])
    func fileCutAtEachBoundaryIsRefused(name: String, message: String) throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/" + name)
        for read in [HDF5CheckpointReader.read, CheckpointReader.read] {
            let error = #expect(throws: CheckpointError.self) { try read(path) }
            #expect(error?.file == path)
            #expect(error?.description.contains(message) == true, "\(String(describing: error))")
        }
    }

    /// A kernel that declares 1 TiB in a 5 KB file is refused from its shape, before any allocation.
    @Test func datasetDeclaringOneTebibyteIsRefused() throws {
        let path = RepositoryPaths.fixture("checkpoints/corrupt/dataset-1tb.weights.h5")
        for read in [HDF5CheckpointReader.read, CheckpointReader.read] {
            let error = #expect(throws: CheckpointError.self) { try read(path) }
            guard case .invalidTensor(let file, _, let reason)? = error else {
                Issue.record("expected invalidTensor, got \(String(describing: error))")
                continue
            }
            #expect(file == path)
            #expect(reason.contains("[262144, 1048576] of F32 declares more than the 16 GiB"), "\(reason)")
        }
    }

    @Test func missingFileAndFolderAreUnreadable() throws {
        try withTemporaryDirectory { dir throws in
            #expect(throws: CheckpointError.unreadable(file: dir + "/none.h5", reason: "no such file")) {
                try HDF5CheckpointReader.read(path: dir + "/none.h5")
            }
            #expect(throws: CheckpointError.unreadable(file: dir, reason: "is a folder, not a file")) {
                try HDF5CheckpointReader.read(path: dir)
            }
        }
    }

    /// An HDF5 file in none of the three layouts: the error says what the root holds.
    @Test func unknownLayoutNamesWhatWasFound() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/other.h5"
            do {
                let file = try HDF5File.create(path, reportedAs: path)
                do {
                    let root = try file.root()
                    _ = try root.createGroup("experiment")
                    try root.createDataset("table", from: StoredTensor(name: "table", dtype: .i32, shape: [2], data: Data(count: 8)), gzipLevel: nil)
                    try root.setAttribute("creator", string: "someone")
                }
                try file.close()
            }
            let error = #expect(throws: CheckpointError.self) { try HDF5CheckpointReader.read(path: path) }
            guard case .unknownFormat(let file, let reason)? = error else {
                Issue.record("expected unknownFormat, got \(String(describing: error))")
                return
            }
            #expect(file == path)
            #expect(reason.contains("groups [experiment], datasets [table], attributes [creator]"), "\(reason)")
        }
    }

    /// A native file from a later nanoforge, or with a foreign format name, is refused by name.
    @Test func nativeLayoutVersionIsChecked() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/future.h5"
            try HDF5CheckpointWriter.write(HDF5TestData.everyDType(), to: path)
            do {
                let file = try HDF5File.openForUpdate(path)
                try file.root().setAttribute(HDF5NativeLayout.versionAttribute, integer: 2)
                try file.close()
            }
            #expect(throws: CheckpointError.unknownFormat(file: path, reason: "nanoforge-native layout version 2; this nanoforge reads version 1")) {
                try HDF5CheckpointReader.read(path: path)
            }
        }
    }
}
