import Foundation
import NanoTensor
import Testing
@testable import NanoCheckpoint
import TestSupport

/// Interop with h5py both ways: what we write, h5py reads bit-exact; what h5py writes (in the
/// native and the Keras layouts, and hostile variants), we read bit-exact or refuse by name.
/// These tests need python3 with h5py and numpy, which `make setup` installs; without them they
/// fail, saying so.
@Suite struct HDF5InteropTests {
    // MARK: nanoforge → h5py

    /// h5py's view of a file: every dataset's numpy dtype, shape, little-endian bytes and
    /// compression, and the root attributes.
    static let describeFile = #"""
        import h5py, json, sys
        import numpy as np
        out = {"datasets": {}, "attrs": {}}
        with h5py.File(sys.argv[1], "r") as f:
            def visit(name, obj):
                if isinstance(obj, h5py.Dataset):
                    a = np.asarray(obj[()])
                    little = a.astype(a.dtype.newbyteorder("<"))
                    out["datasets"][name] = {"dtype": a.dtype.str, "shape": list(obj.shape),
                                             "hex": little.tobytes().hex(), "compression": obj.compression}
            f.visititems(visit)
            for key, value in f.attrs.items():
                if isinstance(value, bytes):
                    value = value.decode("utf8")
                elif isinstance(value, np.generic):
                    value = value.item()
                out["attrs"][key] = value
        print(json.dumps(out))
        """#

    @Test(arguments: [nil, 6] as [Int?])
    func h5pyReadsWhatWeWriteBitExact(gzipLevel: Int?) throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir throws in
            let path = dir + "/ours.h5"
            var store = HDF5TestData.everyDType()
            store.insert(HDF5TestData.large())
            try HDF5CheckpointWriter.write(store, to: path, gzipLevel: gzipLevel)
            let seen = try Self.json(PythonRunner.run(Self.describeFile, arguments: [path]))
            let datasets = try #require(seen["datasets"] as? [String: [String: Any]])
            #expect(Set(datasets.keys) == Set(store.names.map { $0.replacingOccurrences(of: ".", with: "/") }))
            for t in store.tensors {
                let entry = try #require(datasets[t.name.replacingOccurrences(of: ".", with: "/")], "\(t.name)")
                let (dtype, hex) = Self.numpyView(t)
                #expect(entry["dtype"] as? String == dtype, "\(t.name)")
                #expect(entry["shape"] as? [Int] == t.shape, "\(t.name)")
                #expect(entry["hex"] as? String == hex, "\(t.name)")
                let compressed = gzipLevel != nil && !t.shape.isEmpty && t.elementCount > 0
                #expect((entry["compression"] as? String) == (compressed ? "gzip" : nil), "\(t.name)")
            }
            let attributes = try #require(seen["attrs"] as? [String: Any])
            #expect(attributes["nanoforge.format"] as? String == "nanoforge-native")
            #expect(attributes["nanoforge.format_version"] as? Int == 1)
            for (key, value) in store.metadata { #expect(attributes[key] as? String == value, "\(key)") }
            #expect(attributes.count == store.metadata.count + 2)
        }
    }

    /// numpy's dtype string for a tensor and the little-endian bytes h5py gives. h5py has no
    /// bfloat16: HDF5 converts it, exactly, to float32.
    static func numpyView(_ t: StoredTensor) -> (dtype: String, hex: String) {
        switch t.dtype {
        case .f64: return ("<f8", t.data.hex)
        case .f32: return ("<f4", t.data.hex)
        case .f16: return ("<f2", t.data.hex)
        case .bf16: return ("<f4", HDF5TestData.littleEndian(t.floatTensor().scalars.map(\.bitPattern)).hex)
        case .i64: return ("<i8", t.data.hex)
        case .i32: return ("<i4", t.data.hex)
        case .i16: return ("<i2", t.data.hex)
        case .i8: return ("|i1", t.data.hex)
        case .u8: return ("|u1", t.data.hex)
        case .bool: return ("|b1", t.data.hex)
        }
    }

    // MARK: h5py → nanoforge

    /// A native-layout file written by h5py: every dtype (some big-endian, one gzip+shuffle
    /// chunked), and string attributes in each of HDF5's spellings.
    static let writeNative = #"""
        import h5py, json, sys
        import numpy as np
        rng = np.random.default_rng(5)
        arrays = {
            "f16.values": rng.standard_normal((3, 4)).astype("<f2"),
            "f16.big_endian": rng.standard_normal((5,)).astype(">f2"),
            "f32.values": rng.standard_normal((2, 3, 4)).astype("<f4"),
            "f32.big_endian": rng.standard_normal((4, 2)).astype(">f4"),
            "f32.gzip": rng.standard_normal((64, 48)).astype("<f4"),
            "f32.scalar": np.array(2.5, dtype="<f4"),
            "f32.empty": np.zeros((0, 3), dtype="<f4"),
            "f64.values": rng.standard_normal((3,)).astype("<f8"),
            "i8.values": np.array([-128, -1, 0, 127], dtype="i1"),
            "u8.values": np.array([0, 255, 7], dtype="u1"),
            "i16.values": np.array([-32768, 5, 32767], dtype="<i2"),
            "i32.values": np.array([-2**31, 0, 2**31 - 1], dtype="<i4"),
            "i32.big_endian": np.array([1, -2, 3], dtype=">i4"),
            "i64.values": np.array([-2**63, 2**63 - 1], dtype="<i8"),
            "bool.values": np.array([True, False, True]),
        }
        names = {"f2": "F16", "f4": "F32", "f8": "F64", "i1": "I8", "u1": "U8", "i2": "I16", "i4": "I32", "i8": "I64", "b1": "BOOL"}
        with h5py.File(sys.argv[1], "w") as f:
            f.attrs["nanoforge.format"] = "nanoforge-native"
            f.attrs["nanoforge.format_version"] = np.int64(1)
            f.attrs["nanoforge.config"] = json.dumps({"architecture": "mlp_classifier", "config": {"hidden": [4]}})
            f.attrs["vlen_utf8"] = "grüße ✓"
            f.attrs["fixed_bytes"] = np.bytes_(b"tensorflow")
            nullterm = h5py.h5t.C_S1.copy(); nullterm.set_size(8); nullterm.set_strpad(h5py.h5t.STR_NULLTERM)
            f.attrs.create("fixed_nullterm", np.array(b"abc", dtype="S8"), dtype=h5py.Datatype(nullterm))
            spacepad = h5py.h5t.C_S1.copy(); spacepad.set_size(8); spacepad.set_strpad(h5py.h5t.STR_SPACEPAD)
            f.attrs.create("fixed_spacepad", np.array(b"xyz", dtype="S8"), dtype=h5py.Datatype(spacepad))
            f.attrs["an_int"] = 3
            f.attrs["floats"] = np.array([0.5, -2.0])
            f.attrs["names_vlen"] = ["a", "bé"]
            f.attrs["names_fixed"] = [b"dense", b"dense_1"]
            f.attrs["nothing"] = h5py.Empty("f4")
            for name, a in arrays.items():
                extra = dict(compression="gzip", compression_opts=4, shuffle=True, chunks=(8, 8)) if name == "f32.gzip" else {}
                f.create_dataset(name.replace(".", "/"), data=a, **extra)
        expected = {name: {"dtype": names[a.dtype.str[1:]], "shape": list(a.shape),
                           "hex": a.astype(a.dtype.newbyteorder("<")).tobytes().hex()} for name, a in arrays.items()}
        print(json.dumps(expected))
        """#

    @Test func weReadWhatH5pyWritesBitExact() throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir throws in
            let path = dir + "/h5py.h5"
            let expected = try Self.json(PythonRunner.run(Self.writeNative, arguments: [path]))
            let store = try CheckpointReader.read(path: path)
            #expect(Set(store.names) == Set(expected.keys))
            for (name, value) in expected {
                let entry = try #require(value as? [String: Any])
                let tensor = try #require(store[name], "\(name)")
                #expect(tensor.dtype.rawValue == entry["dtype"] as? String, "\(name)")
                #expect(tensor.shape == entry["shape"] as? [Int], "\(name)")
                #expect(tensor.data.hex == entry["hex"] as? String, "\(name)")
            }
            #expect(store.metadata == [
                "nanoforge.config": #"{"architecture": "mlp_classifier", "config": {"hidden": [4]}}"#,
                "vlen_utf8": "grüße ✓", "fixed_bytes": "tensorflow", "fixed_nullterm": "abc", "fixed_spacepad": "xyz",
            ])

            let root = try HDF5File.open(path).root()
            #expect(try root.attribute("an_int") == HDF5AttributeValue(content: .integers([3]), isScalar: true))
            #expect(try root.attribute("floats") == HDF5AttributeValue(content: .floats([0.5, -2]), isScalar: false))
            #expect(try root.attribute("names_vlen") == HDF5AttributeValue(content: .strings(["a", "bé"]), isScalar: false))
            #expect(try root.attribute("names_fixed") == HDF5AttributeValue(content: .strings(["dense", "dense_1"]), isScalar: false))
            #expect(try root.attribute("nothing")?.content == .empty)
        }
    }

    /// Attributes the wrapper writes, as h5py sees them.
    @Test func h5pyReadsOurAttributes() throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir throws in
            let path = dir + "/attributes.h5"
            do {
                let file = try HDF5File.create(path, reportedAs: path)
                do {
                    let root = try file.root()
                    try root.setAttribute("vlen", string: "variable ✓")
                    try root.setAttribute("fixed", string: "tensorflow", fixedLength: true)
                    try root.setAttribute("names", strings: ["dense", "dropout", "dense_1"])
                    try root.setAttribute("count", integer: -42)
                    try root.setAttribute("ratio", double: 0.125)
                }
                try file.close()
            }
            let script = #"""
                import h5py, json, sys
                with h5py.File(sys.argv[1], "r") as f:
                    a = f.attrs
                    print(json.dumps({"vlen": a["vlen"], "fixed": a["fixed"].decode(), "fixed_type": type(a["fixed"]).__name__,
                                      "names": [n.decode() for n in a["names"]], "names_dtype": a["names"].dtype.str,
                                      "count": int(a["count"]), "ratio": float(a["ratio"])}))
                """#
            let seen = try Self.json(PythonRunner.run(script, arguments: [path]))
            #expect(seen["vlen"] as? String == "variable ✓")
            #expect(seen["fixed"] as? String == "tensorflow")
            #expect(seen["fixed_type"] as? String == "bytes_")
            #expect(seen["names"] as? [String] == ["dense", "dropout", "dense_1"])
            #expect(seen["names_dtype"] as? String == "|S7")
            #expect(seen["count"] as? Int == -42)
            #expect(seen["ratio"] as? Double == 0.125)
        }
    }

    // MARK: Keras variants written by h5py

    /// Keras spellings beyond the fixtures: chunked `layer_names0/1`, Keras 3's legacy weight
    /// names without `:0`, a nested model, layers whose class is known not to be Dense, and in
    /// Keras 3 nested layers, non-Dense layers, ten-plus variables, and the ignored optimizer.
    static let writeKerasVariants = #"""
        import h5py, json, sys
        import numpy as np
        rng = np.random.default_rng(9)
        f4 = lambda *shape: rng.standard_normal(shape).astype("<f4")
        expected2, expected3 = {}, {}
        def put(expected, name, a):
            expected[name] = {"shape": list(a.shape), "hex": np.ascontiguousarray(a).tobytes().hex()}
        # Keras 2
        k, b, inner_k, conv, gamma = f4(4, 3), f4(3), f4(3, 2), f4(3, 3, 1, 2), f4(2)
        config = {"class_name": "Functional", "config": {"name": "model", "layers": [
            {"class_name": "Dense", "name": "dense", "config": {"name": "dense"}},
            {"class_name": "Sequential", "name": "sequential", "config": {"name": "sequential"}},
            {"class_name": "Conv2D", "name": "conv2d", "config": {"name": "conv2d"}},
            {"class_name": "BatchNormalization", "name": "bn", "config": {"name": "bn"}}]}}
        with h5py.File(sys.argv[1], "w") as f:
            f.attrs["model_config"] = json.dumps(config).encode()
            w = f.create_group("model_weights")
            w.attrs["layer_names0"] = [b"dense", b"sequential"]
            w.attrs["layer_names1"] = [b"conv2d", b"bn"]
            for layer, weights in [("dense", [("dense/kernel", k), ("dense/bias", b)]),
                                   ("sequential", [("dense_1/kernel:0", inner_k)]),
                                   ("conv2d", [("conv2d/kernel:0", conv)]),
                                   ("bn", [("bn/gamma:0", gamma)])]:
                g = w.create_group(layer)
                g.attrs["weight_names"] = [n.encode() for n, _ in weights]
                for n, a in weights:
                    g.create_dataset(n, data=a)
            w.create_group("top_level_model_weights").attrs["weight_names"] = np.asarray([])
        put(expected2, "dense.weight", k.T); put(expected2, "dense.bias", b)
        put(expected2, "sequential.dense_1.weight", inner_k.T)
        put(expected2, "conv2d.kernel", conv); put(expected2, "bn.gamma", gamma)
        # Keras 3
        nk, nb, emb, ln0, ln1 = f4(5, 4), f4(4), f4(10, 3), f4(3), f4(3)
        many = [f4(1) for _ in range(11)]
        with h5py.File(sys.argv[2], "w") as f:
            f.create_group("vars")
            f.create_dataset("optimizer/vars/0", data=np.int64(3))
            for path, values in [("layers/sequential/layers/dense/vars", [nk, nb]), ("layers/sequential/vars", []),
                                 ("layers/embedding/vars", [emb]), ("layers/layer_normalization/vars", [ln0, ln1]),
                                 ("layers/many/vars", many)]:
                g = f.create_group(path)
                for i, a in enumerate(values):
                    g.create_dataset(str(i), data=a)
        put(expected3, "embedding.vars.0", emb)
        put(expected3, "layer_normalization.vars.0", ln0); put(expected3, "layer_normalization.vars.1", ln1)
        for i, a in enumerate(many):
            put(expected3, f"many.vars.{i}", a)
        put(expected3, "sequential.dense.weight", nk.T); put(expected3, "sequential.dense.bias", nb)
        print(json.dumps({"keras2": expected2, "keras3": expected3}))
        """#

    @Test func kerasVariantsFromH5py() throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir throws in
            let (keras2, keras3) = (dir + "/keras2.h5", dir + "/keras3.weights.h5")
            let expected = try Self.json(PythonRunner.run(Self.writeKerasVariants, arguments: [keras2, keras3]))
            for (path, key, order) in [
                (keras2, "keras2", ["dense.weight", "dense.bias", "sequential.dense_1.weight", "conv2d.kernel", "bn.gamma"]),
                (keras3, "keras3", ["embedding.vars.0", "layer_normalization.vars.0", "layer_normalization.vars.1"]
                    + (0...10).map { "many.vars.\($0)" } + ["sequential.dense.weight", "sequential.dense.bias"]),
            ] {
                let store = try HDF5CheckpointReader.read(path: path)
                let tensors = try #require(expected[key] as? [String: [String: Any]])
                #expect(store.names == order, "\(key)")
                for (name, entry) in tensors {
                    let t = try #require(store[name], "\(key): \(name)")
                    #expect(t.shape == entry["shape"] as? [Int], "\(key): \(name)")
                    #expect(t.data.hex == entry["hex"] as? String, "\(key): \(name)")
                }
            }
        }
    }

    // MARK: Hostile files

    static let writeHostile = #"""
        import h5py, os, sys
        import numpy as np
        d = sys.argv[1]
        def native(name):
            f = h5py.File(os.path.join(d, name), "w")
            f.attrs["nanoforge.format"] = "nanoforge-native"
            f.attrs["nanoforge.format_version"] = 1
            return f
        with native("huge.h5") as f:
            f.create_dataset("layer/huge", shape=(1 << 20, 1 << 20), dtype="f4")
        with native("inflated.h5") as f:
            f.create_dataset("inflated", shape=(4000, 1000), dtype="f4")
        with native("big-chunks.h5") as f:
            f.create_dataset("chunky", shape=(10,), maxshape=(None,), chunks=(50_000_000,), dtype="f4")
        with native("uint16.h5") as f:
            f["x"] = np.arange(3, dtype="<u2")
        with native("compound.h5") as f:
            f["pair"] = np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")])
        with native("strings.h5") as f:
            f["text"] = np.array(["a", "b"], dtype=h5py.string_dtype())
        with native("null.h5") as f:
            f["nothing"] = h5py.Empty("f4")
        with native("soft-link.h5") as f:
            f["a"] = np.zeros(2, dtype="f4")
            f["b"] = h5py.SoftLink("/a")
        with native("external-link.h5") as f:
            f["e"] = h5py.ExternalLink("elsewhere.h5", "/x")
        with native("cycle.h5") as f:
            g = f.create_group("g")
            g["loop"] = g
        with native("version-text.h5") as f:
            f.attrs["nanoforge.format_version"] = "one"
        with h5py.File(os.path.join(d, "other-format.h5"), "w") as f:
            f.attrs["nanoforge.format"] = "something-else"
        """#

    @Test func hostileFilesAreRefusedByName() throws {
        try PythonRunner.require(modules: ["h5py", "numpy"])
        try withTemporaryDirectory { dir throws in
            try PythonRunner.run(Self.writeHostile, arguments: [dir])
            func error(_ name: String) -> CheckpointError? {
                #expect(throws: CheckpointError.self) { try CheckpointReader.read(path: dir + "/" + name) }
            }
            func expectInvalid(_ name: String, tensor: String, _ reason: String) {
                guard case .invalidTensor(let file, let t, let r)? = error(name) else { Issue.record("\(name): not invalidTensor"); return }
                #expect(file == dir + "/" + name && t == tensor && r.contains(reason), "\(name): \(t): \(r)")
            }
            func expectHDF5(_ name: String, object: String, _ reason: String) {
                guard case .hdf5(let file, let o, let r)? = error(name) else { Issue.record("\(name): not hdf5"); return }
                #expect(file == dir + "/" + name && o == object && r.contains(reason), "\(name): \(o): \(r)")
            }
            expectInvalid("huge.h5", tensor: "layer.huge", "more than the 16 GiB nanoforge reads")
            expectInvalid("inflated.h5", tensor: "inflated", "absurd for an uncompressed dataset")
            expectInvalid("big-chunks.h5", tensor: "chunky", "chunks of 200000000 bytes")
            expectInvalid("null.h5", tensor: "nothing", "null dataspace")
            for (name, tensor, dtype) in [("uint16.h5", "x", "unsigned integer of 2 bytes"), ("compound.h5", "pair", "compound"),
                                          ("strings.h5", "text", "string")] {
                #expect(error(name) == .unsupportedDType(file: dir + "/" + name, tensor: tensor, dtype: dtype))
            }
            expectHDF5("soft-link.h5", object: "/b", "soft, external or user-defined link")
            expectHDF5("external-link.h5", object: "/e", "soft, external or user-defined link")
            expectHDF5("cycle.h5", object: "/g/loop", "reached a second time")
            guard case .unknownFormat(_, let versionReason)? = error("version-text.h5"),
                  case .unknownFormat(_, let formatReason)? = error("other-format.h5") else {
                Issue.record("expected unknownFormat for version-text.h5 and other-format.h5")
                return
            }
            #expect(versionReason.contains("without an integer 'nanoforge.format_version'"))
            #expect(formatReason.contains("'something-else', expected 'nanoforge-native'"))
        }
    }

    // MARK: Helpers

    static func json(_ text: String) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8))
        return try #require(object as? [String: Any], "not a JSON object: \(text.prefix(200))")
    }
}
