/// Keras 3's `.weights.h5` layout (`model.save_weights("m.weights.h5")`, and `model.weights.h5`
/// inside a `.keras` archive): each layer is a group `layers/<name>` whose variables are the
/// datasets `vars/0`, `vars/1`, … in the layer's own order; a layer holding layers (a nested
/// model, attention's projections) has them as further groups, under `layers/` or under their
/// attribute names. The root's `vars` (the model's own variables) and `optimizer` are not read.
///
/// Tensors are named by the layer path without the `layers` components (`dense`,
/// `sequential.dense_1`) plus `.vars.<i>`, except for Dense layers: the file has no class names,
/// so a layer is read as Dense when it has exactly two variables, a kernel of rank ≥ 2 other than 4
/// (a convolution's) and a rank-1 bias as long as the kernel's last dimension; its kernel [in, out] becomes `<layer>.weight`
/// [out, in] and must have rank 2, and its bias `<layer>.bias`. (A bias-free Dense layer cannot be
/// told from an embedding, so it keeps `<layer>.vars.0` as Keras stores it, [in, out].)
enum Keras3Layout {
    static func read(_ root: HDF5Group) throws -> TensorStore {
        var store = TensorStore(metadata: try HDF5NativeLayout.stringAttributes(of: root), source: root.file.path, format: .hdf5)
        var visited = Set<UInt64>()
        let layers = try root.group("layers")
        for member in try layers.members() where member.kind == .group {
            try visit(try layers.group(member.name), owner: [member.name], address: member.address, depth: 0,
                      visited: &visited, into: &store)
        }
        return store
    }

    private static func visit(_ group: HDF5Group, owner: [String], address: UInt64?, depth: Int,
                              visited: inout Set<UInt64>, into store: inout TensorStore) throws {
        guard depth < HDF5Limits.maxDepth else {
            throw CheckpointError.hdf5(file: group.file.path, object: group.site.object, reason: "layers nested deeper than \(HDF5Limits.maxDepth) levels")
        }
        if let address, !visited.insert(address).inserted {
            throw CheckpointError.hdf5(file: group.file.path, object: group.site.object, reason: "a group reached a second time (hard-link cycle or alias)")
        }
        let name = owner.joined(separator: ".")
        let members = try group.members()
        if members.contains(where: { $0.name == "vars" && $0.kind == .group }) {
            let vars = try group.group("vars")
            var variables: [KerasLayout.Variable] = []
            for member in try vars.members() where member.kind == .dataset {
                variables.append(KerasLayout.Variable(key: member.name, label: "vars.\(member.name)", dataset: try vars.dataset(member.name, tensor: "\(name).vars.\(member.name)")))
            }
            // Positions sort as numbers ("10" after "9"); HDF5 lists names in byte order.
            if variables.allSatisfy({ Int($0.key) != nil }) {
                variables.sort { (Int($0.key) ?? 0) < (Int($1.key) ?? 0) }
            }
            let tensors = try KerasLayout.tensors(owner: name, variables: variables, dense: denseRoles(variables))
            try KerasLayout.add(tensors, to: &store)
        }
        for member in members where member.kind == .group && member.name != "vars" {
            let child = try group.group(member.name)
            if member.name == "layers" {
                for sub in try child.members() where sub.kind == .group {
                    try visit(try child.group(sub.name), owner: owner + [sub.name], address: sub.address, depth: depth + 1,
                              visited: &visited, into: &store)
                }
            } else {
                try visit(child, owner: owner + [member.name], address: member.address, depth: depth + 1,
                          visited: &visited, into: &store)
            }
        }
    }

    /// The keys of the kernel and bias when `variables` look like a Dense layer's.
    static func denseRoles(_ variables: [KerasLayout.Variable]) -> (kernel: String, bias: String?)? {
        let keys = Set(variables.map(\.key))
        if keys.contains("kernel") && keys.isSubset(of: ["kernel", "bias"]) { return ("kernel", "bias") }
        guard variables.count == 2 else { return nil }
        let (kernel, bias) = (variables[0].dataset.shape, variables[1].dataset.shape)
        // A rank-4 kernel is a 2-D convolution's [kh, kw, in, out]: its variables keep their
        // positions, and the keras_graph family names them from the model's config.json.
        guard kernel.count >= 2, kernel.count != 4, bias.count == 1, kernel.last == bias[0] else { return nil }
        return (variables[0].key, variables[1].key)
    }
}
