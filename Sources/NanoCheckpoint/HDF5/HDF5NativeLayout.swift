import Foundation

/// nanoforge's own HDF5 layout (docs/formats.md, "HDF5 native layout"): one group per module
/// path, one dataset per parameter, so tensor `encoder.layer.0.attention.self.query.weight` is
/// dataset `/encoder/layer/0/attention/self/query/weight`. The root carries the attributes
/// `nanoforge.format = "nanoforge-native"`, `nanoforge.format_version = 1` (64-bit integer), and
/// the store's metadata as variable-length UTF-8 strings, the model config among them as
/// `nanoforge.config` (a JSON string).
enum HDF5NativeLayout {
    static let formatAttribute = "nanoforge.format"
    static let formatName = "nanoforge-native"
    static let versionAttribute = "nanoforge.format_version"
    static let version: Int64 = 1
    /// The metadata key (and root attribute) holding the model config as JSON.
    static let configKey = "nanoforge.config"
    /// Root attributes that describe the layout rather than the model: not copied to metadata.
    static let layoutAttributes: Set<String> = [formatAttribute, versionAttribute]

    // MARK: Names

    /// The group path (all but the last) and dataset name (the last) of each tensor, in store
    /// order. Rejects names HDF5 cannot hold: empty components (leading, trailing or doubled
    /// dots), '/' or NUL in a component, and a tensor whose name is also a module path of another
    /// (`a.b` beside `a.b.c`).
    static func paths(for store: TensorStore, file: String) throws -> [[String]] {
        var paths: [[String]] = []
        var groups = Set<String>()
        for name in store.names {
            func invalid(_ reason: String) -> CheckpointError { .invalidTensor(file: file, tensor: name, reason: reason) }
            let components = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !components.contains(where: \.isEmpty) else {
                throw invalid("an empty path component (leading, trailing or doubled '.'); the native HDF5 layout maps each '.'-separated part to a group")
            }
            if let bad = components.first(where: { $0.contains("/") || $0.utf8.contains(0) }) {
                throw invalid("component '\(bad)' holds '/' or NUL, which HDF5 forbids in link names")
            }
            for end in 1..<components.count { groups.insert(components[..<end].joined(separator: ".")) }
            paths.append(components)
        }
        for (name, components) in zip(store.names, paths) where groups.contains(name) {
            let child = store.names.first { $0.hasPrefix(name + ".") } ?? name + ".…"
            throw CheckpointError.invalidTensor(
                file: file, tensor: components.joined(separator: "."),
                reason: "is both a tensor and the module path of '\(child)'; HDF5 cannot make '\(name)' both a dataset and a group")
        }
        return paths
    }

    // MARK: Reading

    /// Reads a file whose root says `nanoforge.format = "nanoforge-native"`.
    static func read(_ root: HDF5Group) throws -> TensorStore {
        let file = root.file.path
        let version = try root.attribute(versionAttribute)
        let number = version?.integer ?? version?.string.flatMap { Int64($0) }
        guard let number else {
            throw CheckpointError.unknownFormat(file: file, reason: "a nanoforge-native file without an integer '\(versionAttribute)' attribute")
        }
        guard number == HDF5NativeLayout.version else {
            throw CheckpointError.unknownFormat(file: file, reason: "nanoforge-native layout version \(number); this nanoforge reads version \(HDF5NativeLayout.version)")
        }
        var store = TensorStore(metadata: try stringAttributes(of: root, excluding: layoutAttributes), source: file, format: .hdf5)
        var visited = Set<UInt64>()
        try collect(root, prefix: [], depth: 0, visited: &visited, into: &store)
        return store
    }

    /// Datasets below `group`, depth first in the group's link order, named by their path.
    private static func collect(_ group: HDF5Group, prefix: [String], depth: Int,
                                visited: inout Set<UInt64>, into store: inout TensorStore) throws {
        guard depth < HDF5Limits.maxDepth else {
            throw CheckpointError.hdf5(file: group.file.path, object: group.site.object,
                                       reason: "groups nested deeper than \(HDF5Limits.maxDepth) levels")
        }
        for member in try group.members() {
            let site = group.site.child(member.name)
            let name = (prefix + [member.name]).joined(separator: ".")
            switch member.kind {
            case .group:
                if let address = member.address, !visited.insert(address).inserted {
                    throw CheckpointError.hdf5(file: site.file, object: site.object,
                                               reason: "a group reached a second time (hard-link cycle or alias)")
                }
                try collect(try group.group(member.name), prefix: prefix + [member.name], depth: depth + 1,
                            visited: &visited, into: &store)
            case .dataset:
                guard store[name] == nil else {
                    throw CheckpointError.invalidTensor(file: site.file, tensor: name,
                                                        reason: "two datasets map to this name ('\(site.object)' holds a '.' in a component)")
                }
                let dataset = try group.dataset(member.name, tensor: name)
                store.insert(StoredTensor(name: name, dtype: dataset.dtype, shape: dataset.shape, data: try dataset.read()))
            case .namedDatatype:
                continue
            case .softLink, .externalLink, .other:
                throw CheckpointError.hdf5(file: site.file, object: site.object,
                                           reason: "a soft, external or user-defined link; the native layout holds groups and datasets only")
            }
        }
    }

    /// The object's scalar string attributes (fixed- or variable-length) as a dictionary.
    static func stringAttributes(of object: HDF5Object, excluding excluded: Set<String> = []) throws -> [String: String] {
        var result: [String: String] = [:]
        for name in try object.attributeNames() where !excluded.contains(name) {
            if let value = try object.attribute(name), value.isScalar, let string = value.string { result[name] = string }
        }
        return result
    }

    // MARK: Writing

    /// Writes `store` into the empty file `file`: layout attributes, metadata, then one dataset
    /// per tensor, in store order. Every handle it opens is released when it returns.
    static func write(_ store: TensorStore, paths: [[String]], into file: HDF5File, gzipLevel: Int?) throws {
        let root = try file.root()
        try root.setAttribute(formatAttribute, string: formatName)
        try root.setAttribute(versionAttribute, integer: version)
        for (key, value) in store.metadata.sorted(by: { $0.key < $1.key }) where !layoutAttributes.contains(key) {
            try root.setAttribute(key, string: value)
        }
        var groups: [String: HDF5Group] = ["": root]
        func group(_ components: ArraySlice<String>) throws -> HDF5Group {
            let key = components.joined(separator: "/")
            if let existing = groups[key] { return existing }
            guard let last = components.last else { return root }
            let created = try group(components.dropLast()).createGroup(last)
            groups[key] = created
            return created
        }
        for (tensor, components) in zip(store.tensors, paths) {
            guard let name = components.last else { continue }
            try group(components.dropLast()).createDataset(name, from: tensor, gzipLevel: gzipLevel)
        }
    }
}
