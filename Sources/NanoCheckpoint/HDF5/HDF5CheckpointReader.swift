import Foundation

/// Reads HDF5 checkpoints in the layouts nanoforge knows, told apart by what the file holds:
///
/// 1. nanoforge's native layout: the root attribute `nanoforge.format = "nanoforge-native"`;
/// 2. Keras 2 `.h5`: the attribute `layer_names` on `/model_weights` (full model) or on the root
///    (weights only);
/// 3. Keras 3 `.weights.h5`: a `/layers` group.
///
/// Anything else is `CheckpointError.unknownFormat` naming what the root holds. HDF5's own error
/// printing is silenced and its failures become `CheckpointError.hdf5` naming the file and object.
/// Before any dataset is read, its shape and element type are checked and a size out of
/// proportion to the file (more than 1000 × the file's size uncompressed, or 16 GiB at all) is
/// refused; reading never allocates more than the dataset's declared extent.
public enum HDF5CheckpointReader {
    /// The layouts `read(path:)` understands.
    public enum Layout: String, Sendable {
        case native = "nanoforge-native"
        case keras2 = "keras2"
        case keras3 = "keras3"
    }

    /// Reads the file at `path`; first in a child process when `HDF5Isolation` is configured (the
    /// CLI), so that a file that crashes or hangs libhdf5 becomes an error instead.
    public static func read(path: String) throws -> TensorStore {
        try HDF5Isolation.check(path: path)
        return try readInProcess(path: path)
    }

    /// `read(path:)` without the child process: what that process itself runs.
    static func readInProcess(path: String) throws -> TensorStore {
        try read(try HDF5File.open(path))
    }

    /// Reads the bytes of a whole HDF5 file held in memory (HDF5's core driver; nothing touches
    /// disk), with the same checks as `read(path:)`; `source` names the file in errors.
    public static func read(data: Data, source: String) throws -> TensorStore {
        try read(try HDF5File.open(data: data, source: source))
    }

    private static func read(_ file: HDF5File) throws -> TensorStore {
        let root = try file.root()
        switch try detect(root) {
        case .native: return try HDF5NativeLayout.read(root)
        case .keras2:
            let weights = root.containsGroup("model_weights") ? try root.group("model_weights") : root
            return try Keras2Layout.read(root: root, weights: weights)
        case .keras3: return try Keras3Layout.read(root)
        }
    }

    /// The layout of the file at `path`, without reading any tensor (in this process; the file is
    /// checked as by `read(path:)` first).
    public static func layout(path: String) throws -> Layout {
        try HDF5Isolation.check(path: path)
        return try detect(try HDF5File.open(path).root())
    }

    static func detect(_ root: HDF5Group) throws -> Layout {
        let file = root.file.path
        if let format = try root.attribute(HDF5NativeLayout.formatAttribute) {
            guard format.string == HDF5NativeLayout.formatName else {
                throw CheckpointError.unknownFormat(
                    file: file, reason: "root attribute \(HDF5NativeLayout.formatAttribute) is \(format.string.map { "'\($0)'" } ?? "not a string"), expected '\(HDF5NativeLayout.formatName)'")
            }
            return .native
        }
        if root.containsGroup("model_weights"), try KerasLayout.stringList(try root.group("model_weights"), "layer_names") != nil {
            return .keras2
        }
        if try KerasLayout.stringList(root, "layer_names") != nil { return .keras2 }
        if root.containsGroup("layers") { return .keras3 }
        throw CheckpointError.unknownFormat(file: file, reason: "an HDF5 file in no layout nanoforge reads (no '\(HDF5NativeLayout.formatAttribute)' root attribute, no Keras 2 'layer_names', no Keras 3 'layers' group); the root holds \(try describe(root))")
    }

    /// "groups [a, b], datasets [x], attributes [k]" (at most 8 names each).
    private static func describe(_ root: HDF5Group) throws -> String {
        let members = try root.members()
        func list(_ names: [String]) -> String {
            names.isEmpty ? "none" : "[" + names.prefix(8).joined(separator: ", ") + (names.count > 8 ? ", … \(names.count) in all" : "") + "]"
        }
        let groups = members.filter { $0.kind == .group }.map(\.name)
        let datasets = members.filter { $0.kind == .dataset }.map(\.name)
        return "groups \(list(groups)), datasets \(list(datasets)), attributes \(list(try root.attributeNames()))"
    }
}
