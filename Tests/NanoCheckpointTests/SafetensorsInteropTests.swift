import Foundation
import Testing
import NanoCheckpoint
import NanoTensor
import TestSupport

/// Interop with the reference implementation, the Python `safetensors` package (which `make setup`
/// installs): what we write it reads bit for bit, and what it writes we read bit for bit.
@Suite struct SafetensorsInteropTests {
    /// One tensor as Python reports it: raw bytes in hex, plus the values decoded by numpy.
    struct PythonTensor: Decodable {
        let dtype: String
        let shape: [Int]
        let hex: String
        let f32_bits: [UInt32]?
        let ints: [Int64]?
    }

    struct PythonFile: Decodable {
        let metadata: [String: String]?
        let tensors: [String: PythonTensor]
    }

    struct InteropUnavailable: Error, CustomStringConvertible {
        let reason: String
        var description: String { "python3 with numpy and safetensors is needed for interop tests: run `make setup`.\n\(reason)" }
    }

    static func requirePython() throws {
        do { _ = try PythonRunner.run("import numpy, safetensors") } catch {
            throw InteropUnavailable(reason: "\(error)")
        }
    }

    /// Python helpers: `describe(name, dtype, shape, raw_bytes)` gives a PythonTensor dictionary.
    static let prelude = """
    import json, sys
    import numpy as np
    import safetensors
    from safetensors import safe_open, deserialize, serialize, TensorSpec
    from safetensors.numpy import load_file, save_file

    NUMPY = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?"}

    def describe(dtype, shape, raw):
        out = {"dtype": dtype, "shape": list(shape), "hex": bytes(raw).hex()}
        if dtype == "BF16":
            bits = (np.frombuffer(bytes(raw), dtype="<u2").astype(np.uint32) << 16)
            out["f32_bits"] = [int(b) for b in bits]
        elif dtype in ("F64", "F32", "F16"):
            out["f32_bits"] = [int(b) for b in np.frombuffer(bytes(raw), dtype=NUMPY[dtype]).astype("<f4").view("<u4")]
        else:
            out["ints"] = [int(v) for v in np.frombuffer(bytes(raw), dtype=NUMPY[dtype]).astype(np.int64)]
        return out
    """

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

    /// Our view of a tensor must equal Python's: bytes, and values decoded on both sides.
    static func expectSame(_ t: StoredTensor, _ p: PythonTensor, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(t.dtype.rawValue == p.dtype, "\(t.name)", sourceLocation: sourceLocation)
        #expect(t.shape == p.shape, "\(t.name)", sourceLocation: sourceLocation)
        #expect(hex(t.data) == p.hex, "\(t.name) bytes", sourceLocation: sourceLocation)
        if let bits = p.f32_bits {
            #expect(t.floatTensor().scalars.map(\.bitPattern) == bits, "\(t.name) values", sourceLocation: sourceLocation)
        }
        if let ints = p.ints {
            #expect(t.integers() == ints, "\(t.name) values", sourceLocation: sourceLocation)
        }
    }

    static func decode(_ output: String) throws -> PythonFile {
        try JSONDecoder().decode(PythonFile.self, from: Data(output.utf8))
    }

    /// Arguments reach the script; a script that fails surfaces its exit status and stderr.
    @Test func pythonRunnerPassesArgumentsAndReportsFailures() throws {
        try Self.requirePython()
        #expect(try PythonRunner.run("import sys; sys.stdout.write(sys.argv[1] + '|' + sys.argv[2])", arguments: ["échØ", "a b"]) == "échØ|a b")
        do {
            _ = try PythonRunner.run("import sys; sys.stderr.write('boom'); sys.exit(3)")
            Issue.record("a failing script did not throw")
        } catch let failure as PythonRunner.Failure {
            #expect(failure.status == 3 && failure.stderr == "boom")
        }
    }

    /// Everything we write, the reference parser accepts: raw bytes through `deserialize` for every
    /// dtype, numpy arrays through `load_file`, metadata through `safe_open`.
    @Test func pythonReadsWhatWeWrite() throws {
        try Self.requirePython()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let store = DTypeSamples.store()
        let path = folder.file("ours.safetensors")
        try SafetensorsWriter.write(store, to: path)

        let script = Self.prelude + """

        path = sys.argv[1]
        with open(path, "rb") as f:
            raw = deserialize(f.read())
        with safe_open(path, framework="np") as f:
            metadata = f.metadata()
        tensors = {name: describe(v["dtype"], v["shape"], v["data"]) for name, v in raw}
        print(json.dumps({"metadata": metadata, "tensors": tensors}))
        """
        let python = try Self.decode(try PythonRunner.run(script, arguments: [path]))
        #expect(python.metadata == store.metadata)
        #expect(Set(python.tensors.keys) == Set(store.names))
        for t in store.tensors {
            guard let p = python.tensors[t.name] else { continue }
            Self.expectSame(t, p)
        }

        // numpy's own view, for the dtypes it has (not BF16).
        let numpyStore = TensorStore(tensors: store.tensors.filter { $0.dtype != .bf16 })
        let numpyPath = folder.file("ours-numpy.safetensors")
        try SafetensorsWriter.write(numpyStore, to: numpyPath)
        let numpyScript = Self.prelude + """

        arrays = load_file(sys.argv[1])
        names = {np.dtype(v): k for k, v in NUMPY.items()}
        tensors = {name: describe(names[a.dtype], a.shape, a.tobytes()) for name, a in arrays.items()}
        print(json.dumps({"tensors": tensors}))
        """
        let numpy = try Self.decode(try PythonRunner.run(numpyScript, arguments: [numpyPath]))
        #expect(Set(numpy.tensors.keys) == Set(numpyStore.names))
        for t in numpyStore.tensors {
            guard let p = numpy.tensors[t.name] else { continue }
            Self.expectSame(t, p)
        }
    }

    /// Files the reference library writes (numpy arrays through `save_file`, BF16 through
    /// `serialize`) read bit for bit, metadata included.
    @Test func weReadWhatPythonWrites() throws {
        try Self.requirePython()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let script = Self.prelude + """

        folder = sys.argv[1]
        rng = np.random.default_rng(7)
        arrays = {
            "f64": rng.standard_normal((2, 3)) * 1e10,
            "f32": np.concatenate([rng.standard_normal(9), [np.inf, -np.inf, np.nan, -0.0]]).astype("<f4"),
            "f16": (rng.standard_normal((3, 5)) * 1000).astype("<f2"),
            "i64": rng.integers(-2**63, 2**63 - 1, size=7, dtype=np.int64, endpoint=True),
            "i32": rng.integers(-2**31, 2**31 - 1, size=(2, 2), dtype=np.int32, endpoint=True),
            "i16": rng.integers(-2**15, 2**15 - 1, size=5, dtype=np.int16, endpoint=True),
            "i8": rng.integers(-128, 127, size=9, dtype=np.int8, endpoint=True),
            "u8": rng.integers(0, 255, size=(3, 1), dtype=np.uint8, endpoint=True),
            "bool": rng.random(6) < 0.5,
            "scalar": np.array(1.25, dtype="<f4"),
            "empty": np.zeros((0, 4), dtype="<i4"),
        }
        metadata = {"nanoforge.config": json.dumps({"architecture": "mlp_classifier"}), "format": "np"}
        save_file(arrays, folder + "/numpy.safetensors", metadata=metadata)
        bf16 = rng.integers(0, 0xFFFF, size=12, dtype=np.uint16, endpoint=True).astype("<u2")
        blob = serialize({"bf16": TensorSpec(dtype="bfloat16", shape=[3, 4], data_ptr=bf16.ctypes.data, data_len=bf16.nbytes)},
                         metadata={"k": "v"})
        with open(folder + "/bf16.safetensors", "wb") as f:
            f.write(blob)
        files = {}
        for name in ["numpy.safetensors", "bf16.safetensors"]:
            with open(folder + "/" + name, "rb") as f:
                raw = deserialize(f.read())
            with safe_open(folder + "/" + name, framework="np") as f:
                meta = f.metadata()
            files[name] = {"metadata": meta, "tensors": {n: describe(v["dtype"], v["shape"], v["data"]) for n, v in raw}}
        print(json.dumps(files))
        """
        let output = try PythonRunner.run(script, arguments: [folder.path])
        let files = try JSONDecoder().decode([String: PythonFile].self, from: Data(output.utf8))
        #expect(files.count == 2)
        for (name, python) in files {
            let store = try CheckpointReader.read(path: folder.file(name))
            #expect(store.metadata == python.metadata ?? [:], "\(name)")
            #expect(Set(store.names) == Set(python.tensors.keys), "\(name)")
            for (tensorName, p) in python.tensors {
                guard let t = store[tensorName] else { continue }
                Self.expectSame(t, p)
            }
        }
    }
}
