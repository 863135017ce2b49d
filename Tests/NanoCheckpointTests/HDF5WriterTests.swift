import Foundation
import NanoModels
import NanoTensor
import Testing
@testable import NanoCheckpoint
import TestSupport

/// The native HDF5 layout: what the writer produces, the reader gives back bit for bit.
@Suite struct HDF5WriterTests {
    @Test(arguments: [nil, 1, 9] as [Int?])
    func everyDTypeRoundTrips(gzipLevel: Int?) throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/model.h5"
            var store = HDF5TestData.everyDType()
            store.insert(HDF5TestData.large())
            try HDF5CheckpointWriter.write(store, to: path, gzipLevel: gzipLevel)
            let read = try HDF5CheckpointReader.read(path: path)
            #expect(HDF5TestData.mismatches(read, store) == [])
            #expect(read.metadata == store.metadata)
            #expect(read.source == path)
            #expect(read.format == .hdf5)
            #expect(try HDF5CheckpointReader.layout(path: path) == .native)
            // Format detection by magic bytes reaches the same reader.
            #expect(HDF5TestData.mismatches(try CheckpointReader.read(path: path), store) == [])
        }
    }

    /// gzip makes a compressible tensor smaller on disk; without it the data is stored as is.
    @Test func gzipCompresses() throws {
        try withTemporaryDirectory { dir throws in
            let zeros = StoredTensor(name: "zeros", dtype: .f32, shape: [256, 256], data: Data(count: 256 * 256 * 4))
            let store = TensorStore(tensors: [zeros])
            try HDF5CheckpointWriter.write(store, to: dir + "/plain.h5")
            try HDF5CheckpointWriter.write(store, to: dir + "/gzip.h5", gzipLevel: 6)
            let plain = try fileSize(dir + "/plain.h5"), compressed = try fileSize(dir + "/gzip.h5")
            #expect(plain > 256 * 256 * 4)
            #expect(compressed < 16_384, "gzip file is \(compressed) bytes")
            #expect(HDF5TestData.mismatches(try HDF5CheckpointReader.read(path: dir + "/gzip.h5"), store) == [])
        }
    }

    @Test func chunksHoldAtMostOneMebibyte() {
        #expect(HDF5Group.chunkShape([600, 700], elementSize: 4) == [600, 350])
        #expect(HDF5Group.chunkShape([3, 4], elementSize: 4) == [3, 4])
        #expect(HDF5Group.chunkShape([1 << 20], elementSize: 2) == [1 << 19])
        #expect(HDF5Group.chunkShape([0, 5], elementSize: 4) == [1, 5])
    }

    /// The same store gives the same bytes (no time stamps in the file).
    @Test func outputIsDeterministic() throws {
        try withTemporaryDirectory { dir throws in
            let store = HDF5TestData.everyDType()
            try HDF5CheckpointWriter.write(store, to: dir + "/a.h5", gzipLevel: 4)
            try HDF5CheckpointWriter.write(store, to: dir + "/b.h5", gzipLevel: 4)
            #expect(FileManager.default.contents(atPath: dir + "/a.h5") == FileManager.default.contents(atPath: dir + "/b.h5"))
        }
    }

    /// Tensors come back group by group, each group in the order its members were written.
    @Test func readOrderIsDepthFirstCreationOrder() throws {
        try withTemporaryDirectory { dir throws in
            let names = ["layer.10.w", "b.x", "layer.2.w", "a", "b.y"]
            let store = TensorStore(tensors: names.map { StoredTensor(name: $0, dtype: .u8, shape: [1], data: Data([1])) })
            try HDF5CheckpointWriter.write(store, to: dir + "/order.h5")
            #expect(try HDF5CheckpointReader.read(path: dir + "/order.h5").names == ["layer.10.w", "layer.2.w", "b.x", "b.y", "a"])
        }
    }

    @Test(arguments: [
        (["a..b"], "a..b", "empty path component"),
        ([".a"], ".a", "empty path component"),
        (["a."], "a.", "empty path component"),
        ([""], "", "empty path component"),
        (["enc/oder.weight"], "enc/oder.weight", "'/' or NUL"),
        (["a.b", "a.b.c"], "a.b", "both a tensor and the module path of 'a.b.c'"),
        (["a.b.c", "a.b"], "a.b", "both a tensor and the module path of 'a.b.c'"),
    ])
    func namesHDF5CannotHoldAreRejected(names: [String], tensor: String, reason: String) throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/bad.h5"
            let store = TensorStore(tensors: names.map { StoredTensor(name: $0, dtype: .u8, shape: [1], data: Data([0])) })
            let error = #expect(throws: CheckpointError.self) { try HDF5CheckpointWriter.write(store, to: path) }
            guard case .invalidTensor(let file, let t, let r)? = error else {
                Issue.record("expected invalidTensor, got \(String(describing: error))")
                return
            }
            #expect(file == path)
            #expect(t == tensor)
            #expect(r.contains(reason), "\(r)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == [], "nothing is written")
        }
    }

    @Test func gzipLevelOutsideZeroToNineIsRejected() throws {
        try withTemporaryDirectory { dir throws in
            let error = #expect(throws: CheckpointError.self) {
                try HDF5CheckpointWriter.write(HDF5TestData.everyDType(), to: dir + "/x.h5", gzipLevel: 10)
            }
            #expect(error == .writeFailed(file: dir + "/x.h5", reason: "gzip level 10 is outside 0…9"))
        }
    }

    /// Writing replaces an existing file through a temporary file and a rename: no temporary file
    /// is left behind, and a failed write leaves the old file in place.
    @Test func writesAreAtomic() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/model.h5"
            let first = TensorStore(tensors: [HDF5TestData.large(name: "w", rows: 3, columns: 3)])
            try HDF5CheckpointWriter.write(first, to: path)
            let second = HDF5TestData.everyDType()
            try HDF5CheckpointWriter.write(second, to: path)
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.h5"])
            #expect(HDF5TestData.mismatches(try HDF5CheckpointReader.read(path: path), second) == [])

            var bad = second
            bad.metadata["bad\u{0}key"] = "x"
            #expect(throws: CheckpointError.self) { try HDF5CheckpointWriter.write(bad, to: path) }
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["model.h5"])
            #expect(HDF5TestData.mismatches(try HDF5CheckpointReader.read(path: path), second) == [])
        }
    }

    @Test func writingIntoAMissingFolderCreatesIt() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/a/b/model.h5"
            try HDF5CheckpointWriter.write(HDF5TestData.everyDType(), to: path)
            #expect(try HDF5CheckpointReader.read(path: path).count == HDF5TestData.everyDType().count)
        }
    }

    /// Attributes of every kind the wrapper writes come back with the same content and shape.
    @Test func attributesRoundTrip() throws {
        try withTemporaryDirectory { dir throws in
            let path = dir + "/attributes.h5"
            do {
                let file = try HDF5File.create(path, reportedAs: path)
                do {
                    let root = try file.root()
                    try root.setAttribute("vlen", string: "variable ✓")
                    try root.setAttribute("fixed", string: "tensorflow", fixedLength: true)
                    try root.setAttribute("names", strings: ["dense", "dropout", "dense_1"])
                    try root.setAttribute("no_names", strings: [])
                    try root.setAttribute("count", integer: -42)
                    try root.setAttribute("ratio", double: 0.125)
                    try root.setAttribute("count", integer: 7)  // replaces
                }
                try file.close()
            }
            let root = try HDF5File.open(path).root()
            #expect(try root.attributeNames() == ["count", "fixed", "names", "no_names", "ratio", "vlen"])
            #expect(try root.attribute("vlen") == HDF5AttributeValue(content: .strings(["variable ✓"]), isScalar: true))
            #expect(try root.attribute("fixed") == HDF5AttributeValue(content: .strings(["tensorflow"]), isScalar: true))
            #expect(try root.attribute("names") == HDF5AttributeValue(content: .strings(["dense", "dropout", "dense_1"]), isScalar: false))
            #expect(try root.attribute("no_names")?.strings == [])
            #expect(try root.attribute("count") == HDF5AttributeValue(content: .integers([7]), isScalar: true))
            #expect(try root.attribute("ratio") == HDF5AttributeValue(content: .floats([0.125]), isScalar: true))
            #expect(try root.attribute("missing") == nil)
        }
    }

    /// A model saved in the native layout, its config in `nanoforge.config`, loads back through
    /// `ModelLoader` with every parameter equal.
    @Test func modelLoaderBuildsAModelFromANativeFile() throws {
        try withTemporaryDirectory { dir throws in
            var rng = RandomGenerator(seed: 11)
            let configuration = MLPClassifier.Configuration(inputs: 6, hidden: [5, 4], classes: 3)
            let model = MLPClassifier(configuration, rng: &rng)
            let config = String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self)
            let store = TensorStore(
                tensors: model.namedParameters.map { StoredTensor.encoding($0.variable.value, name: $0.name) },
                metadata: [HDF5NativeLayout.configKey: #"{"architecture": "mlp_classifier", "config": \#(config)}"#])
            let path = dir + "/mlp.h5"
            try HDF5CheckpointWriter.write(store, to: path, gzipLevel: 3)
            let (loaded, _) = try ModelLoader.load(path: path)
            #expect(loaded.spec == .mlp(configuration))
            let reloaded = loaded.container.namedParameters
            #expect(reloaded.map(\.name) == model.namedParameters.map(\.name))
            for ((name, a), (_, b)) in zip(reloaded, model.namedParameters) {
                #expect(a.value == b.value, "\(name)")
            }
        }
    }

    private func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
    }
}
