import Foundation
import NanoCheckpoint
import NanoTensor

/// Stores and helpers shared by the HDF5 reader, writer and interop tests.
enum HDF5TestData {
    /// Every dtype, with edge values (signed zero, infinities, NaN payloads, subnormals, integer
    /// extremes), a scalar, an empty tensor, nested module paths and metadata with non-ASCII text.
    /// Names are listed group by group, the order the native layout reads them back in.
    static func everyDType() -> TensorStore {
        var rng = RandomGenerator(seed: 7)
        var embeddings = rng.normal(shape: [5, 4]).scalars
        embeddings[0] = -0.0
        embeddings[1] = .infinity
        embeddings[2] = Float(bitPattern: 0x7FC0_1234)
        embeddings[3] = .leastNonzeroMagnitude
        let tensors = [
            StoredTensor(name: "embeddings.word_embeddings.weight", dtype: .f32, shape: [5, 4], data: littleEndian(embeddings.map(\.bitPattern))),
            StoredTensor(name: "encoder.layer.0.attention.self.query.weight", dtype: .f16, shape: [3, 4],
                         data: littleEndian([UInt16](arrayLiteral: 0x0000, 0x8000, 0x3C00, 0x7BFF, 0x0001, 0x7C00, 0xFC00, 0x7E01, 0x3555, 0xC000, 0x0400, 0x03FF))),
            StoredTensor(name: "encoder.layer.0.attention.self.query.bias", dtype: .bf16, shape: [4],
                         data: littleEndian([UInt16](arrayLiteral: 0x3F80, 0xC040, 0x7F80, 0x0001))),
            StoredTensor(name: "encoder.layer.0.output.scale", dtype: .f64, shape: [3],
                         data: littleEndian([1.0 / 3, -1e300, Double.leastNonzeroMagnitude].map(\.bitPattern))),
            StoredTensor(name: "encoder.layer.1.quant.codes", dtype: .i8, shape: [2, 3], data: littleEndian([Int8](arrayLiteral: -128, -1, 0, 1, 127, 42))),
            StoredTensor(name: "encoder.layer.1.quant.zero_point", dtype: .u8, shape: [4], data: littleEndian([UInt8](arrayLiteral: 0, 1, 128, 255))),
            StoredTensor(name: "encoder.layer.1.quant.short", dtype: .i16, shape: [3], data: littleEndian([Int16](arrayLiteral: .min, 0, .max))),
            StoredTensor(name: "encoder.layer.1.quant.index", dtype: .i32, shape: [3], data: littleEndian([Int32](arrayLiteral: .min, -1, .max))),
            StoredTensor(name: "encoder.layer.1.quant.offsets", dtype: .i64, shape: [2], data: littleEndian([Int64](arrayLiteral: .min, .max))),
            StoredTensor(name: "encoder.layer.1.mask", dtype: .bool, shape: [5], data: littleEndian([UInt8](arrayLiteral: 0, 1, 1, 0, 1))),
            StoredTensor(name: "pooler.temperature", dtype: .f32, shape: [], data: littleEndian([Float(0.5).bitPattern])),
            StoredTensor(name: "pooler.empty", dtype: .f32, shape: [0, 3], data: Data()),
            StoredTensor(name: "décodeur.poids", dtype: .u8, shape: [2], data: Data([3, 4])),
        ]
        let metadata = [
            "nanoforge.config": #"{"architecture": "mlp_classifier", "config": {"hidden": [8], "note": "ünïcode ✓"}}"#,
            "note": "héllo ✓ — a longer line of text",
            "empty": "",
            "clé": "valeur",
        ]
        return TensorStore(tensors: tensors, metadata: metadata)
    }

    /// A float32 tensor big enough to be split into several 1 MiB gzip chunks.
    static func large(name: String = "big.weight", rows: Int = 600, columns: Int = 700) -> StoredTensor {
        var rng = RandomGenerator(seed: 8)
        return StoredTensor.encoding(rng.normal(shape: [rows, columns]), name: name)
    }

    static func littleEndian<T: FixedWidthInteger>(_ values: [T]) -> Data {
        var data = Data(capacity: values.count * MemoryLayout<T>.size)
        for v in values { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    /// Checks that `read` holds exactly the tensors of `written`, bit for bit, in the same order.
    static func mismatches(_ read: TensorStore, _ written: TensorStore) -> [String] {
        var problems: [String] = []
        if read.names != written.names { problems.append("names \(read.names) != \(written.names)") }
        for t in written.tensors {
            guard let r = read[t.name] else { problems.append("missing \(t.name)"); continue }
            if r.dtype != t.dtype { problems.append("\(t.name): dtype \(r.dtype) != \(t.dtype)") }
            if r.shape != t.shape { problems.append("\(t.name): shape \(r.shape) != \(t.shape)") }
            if r.data != t.data { problems.append("\(t.name): bytes \(r.data.hex) != \(t.data.hex)") }
        }
        return problems
    }
}

extension Data {
    /// Lower-case hexadecimal, as Python's `bytes.hex()` writes it.
    var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: count * 2)
        for (i, byte) in enumerated() {
            out[2 * i] = digits[Int(byte >> 4)]
            out[2 * i + 1] = digits[Int(byte & 0xF)]
        }
        return String(decoding: out, as: UTF8.self)
    }
}
