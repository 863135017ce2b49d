import Foundation

/// What the Keras 2 and Keras 3 readers share: Keras's chunked string-list attributes, and the
/// mapping of a Dense layer's `kernel` [in, out] and `bias` [out] to nanoforge's `weight`
/// [out, in] and `bias` [out].
enum KerasLayout {
    /// A list of strings stored as attribute `name`, or, when a list was too long for one HDF5
    /// object header, as `name0`, `name1`, … (Keras's `save_attributes_to_hdf5_group`). Nil when
    /// the object has neither.
    static func stringList(_ object: HDF5Object, _ name: String) throws -> [String]? {
        if let value = try object.attribute(name) { return try strings(value, object: object, name: name) }
        var result: [String]? = nil
        var chunk = 0
        while let value = try object.attribute("\(name)\(chunk)") {
            result = (result ?? []) + (try strings(value, object: object, name: "\(name)\(chunk)"))
            chunk += 1
        }
        return result
    }

    private static func strings(_ value: HDF5AttributeValue, object: HDF5Object, name: String) throws -> [String] {
        switch value.content {
        case .strings(let s): return s
        // Keras writes an empty list as np.asarray([]): an empty float64 array.
        case .empty, .integers([]), .floats([]): return []
        default:
            throw CheckpointError.hdf5(file: object.site.file, object: object.site.object,
                                       reason: "attribute '\(name)' should be a list of strings, found \(value.content)")
        }
    }

    /// One variable of a Keras layer: its name within the layer (`kernel`, `bias`, `gamma`, or a
    /// position `0`, `1`, … in Keras 3), the suffix it keeps when not mapped (`gamma`, `vars.0`),
    /// and its dataset.
    struct Variable {
        let key: String
        let label: String
        let dataset: HDF5Dataset

        init(key: String, label: String? = nil, dataset: HDF5Dataset) {
            self.key = key
            self.label = label ?? key
            self.dataset = dataset
        }
    }

    /// The variables of layer (or sub-layer) `owner` as tensors. A Dense layer gives
    /// `<owner>.weight` (the kernel transposed to [out, in]) and `<owner>.bias`; `kernel` and `bias`
    /// name the Dense variables among `variables`. Other variables keep `<owner>.<label>`.
    static func tensors(owner: String, variables: [Variable], dense: (kernel: String, bias: String?)?) throws -> [StoredTensor] {
        var tensors: [StoredTensor] = []
        guard let dense, let kernel = variables.first(where: { $0.key == dense.kernel }) else {
            for v in variables { tensors.append(try passThrough(v, name: "\(owner).\(v.label)")) }
            return tensors
        }
        let bias = dense.bias.flatMap { key in variables.first { $0.key == key } }
        let file = kernel.dataset.file.path
        let weightName = "\(owner).weight"
        guard kernel.dataset.shape.count == 2 else {
            throw CheckpointError.invalidTensor(
                file: file, tensor: weightName,
                reason: "Dense kernel '\(kernel.dataset.site.object)' has rank \(kernel.dataset.shape.count) (shape \(kernel.dataset.shape)); a Dense kernel has rank 2, [in, out] (nanoforge reads Dense layers, not convolutions)")
        }
        let (inputs, outputs) = (kernel.dataset.shape[0], kernel.dataset.shape[1])
        let data = transpose(try kernel.dataset.read(), rows: inputs, columns: outputs, elementSize: kernel.dataset.dtype.size)
        for v in variables {
            if v.key == kernel.key {
                tensors.append(StoredTensor(name: weightName, dtype: kernel.dataset.dtype, shape: [outputs, inputs], data: data))
            } else if let bias, v.key == bias.key {
                guard bias.dataset.shape == [outputs] else {
                    throw CheckpointError.shapeMismatch(file: file, tensor: "\(owner).bias", expected: [outputs], found: bias.dataset.shape)
                }
                tensors.append(try passThrough(bias, name: "\(owner).bias"))
            } else {
                tensors.append(try passThrough(v, name: "\(owner).\(v.label)"))
            }
        }
        return tensors
    }

    private static func passThrough(_ v: Variable, name: String) throws -> StoredTensor {
        StoredTensor(name: name, dtype: v.dataset.dtype, shape: v.dataset.shape, data: try v.dataset.read())
    }

    /// The transpose of a row-major [rows, columns] matrix of `elementSize`-byte elements.
    static func transpose(_ data: Data, rows: Int, columns: Int, elementSize: Int) -> Data {
        precondition(data.count == rows * columns * elementSize, "transpose: \(data.count) bytes for [\(rows), \(columns)]")
        var out = Data(count: data.count)
        data.withUnsafeBytes { source in
            out.withUnsafeMutableBytes { destination in
                func move<T: BitwiseCopyable>(_: T.Type) {
                    let size = MemoryLayout<T>.size
                    for r in 0..<rows {
                        for c in 0..<columns {
                            let value = source.loadUnaligned(fromByteOffset: (r * columns + c) * size, as: T.self)
                            destination.storeBytes(of: value, toByteOffset: (c * rows + r) * size, as: T.self)
                        }
                    }
                }
                switch elementSize {
                case 1: move(UInt8.self)
                case 2: move(UInt16.self)
                case 4: move(UInt32.self)
                case 8: move(UInt64.self)
                default:
                    guard let src = source.baseAddress, let dst = destination.baseAddress else { return }
                    for r in 0..<rows {
                        for c in 0..<columns {
                            (dst + (c * rows + r) * elementSize).copyMemory(from: src + (r * columns + c) * elementSize, byteCount: elementSize)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Adds `tensors` to `store`, refusing a name that two variables map to.
    static func add(_ tensors: [StoredTensor], to store: inout TensorStore) throws {
        for t in tensors {
            guard store[t.name] == nil else {
                throw CheckpointError.invalidTensor(file: store.source, tensor: t.name, reason: "two Keras variables map to this name")
            }
            store.insert(t)
        }
    }
}
