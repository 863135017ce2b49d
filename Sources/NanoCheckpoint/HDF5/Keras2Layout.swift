import Foundation

/// Keras 2's HDF5 layout (`model.save("m.h5")`, `model.save_weights("w.h5")`; Keras 3's legacy
/// `.h5` writer is the same): a weights group — `model_weights` in a full model file, the root in
/// a weights-only file — lists its layers in the attribute `layer_names`; each layer's group lists
/// its variables in `weight_names` (`dense/kernel:0`, or `dense/kernel` from Keras 3), each a
/// dataset at that path inside the layer's group.
///
/// Tensors are named `<layer>.<variable>`, the `:0` suffix dropped and a leading `<layer>/`
/// scope removed; variables nested deeper (a model inside a model) keep their scopes as dotted
/// components. A Dense layer's `kernel` [in, out] becomes `<layer>.weight` [out, in] and its
/// `bias` `<layer>.bias`. A layer is Dense when the root's `model_config` says `class_name:
/// "Dense"`, or, where no config names its class, when its variables are a `kernel` and
/// optionally a `bias`.
enum Keras2Layout {
    /// Reads the layers listed on `weights` (the root or `/model_weights`).
    static func read(root: HDF5Group, weights: HDF5Group) throws -> TensorStore {
        let file = root.file.path
        var metadata = try HDF5NativeLayout.stringAttributes(of: weights)
        metadata.merge(try HDF5NativeLayout.stringAttributes(of: root)) { _, rootValue in rootValue }
        var store = TensorStore(metadata: metadata, source: file, format: .hdf5)
        let classes = try layerClasses(metadata["model_config"], file: file)
        for layer in try KerasLayout.stringList(weights, "layer_names") ?? [] {
            guard !layer.isEmpty, !layer.contains("/"), weights.containsGroup(layer) else {
                throw CheckpointError.hdf5(file: file, object: weights.site.child(layer).object,
                                           reason: "layer '\(layer)' is listed in layer_names but has no group")
            }
            let group = try weights.group(layer)
            // Variables grouped by owner: the layer itself ("") or a sub-layer's scope.
            var owners: [(owner: [String], variables: [KerasLayout.Variable])] = []
            for weightName in try KerasLayout.stringList(group, "weight_names") ?? [] {
                var components = variablePath(weightName)
                if components.count > 1 && isScope(components[0], of: layer) { components.removeFirst() }
                guard let leaf = components.last, !weightName.hasPrefix("/"), !components.contains(where: { $0.isEmpty || $0 == ".." }) else {
                    throw CheckpointError.hdf5(file: file, object: group.site.object, reason: "weight name '\(weightName)' is not a relative path")
                }
                let owner = Array(components.dropLast())
                let tensor = ([layer] + components).joined(separator: ".")
                let variable = KerasLayout.Variable(key: leaf, dataset: try group.dataset(weightName, tensor: tensor))
                if let i = owners.firstIndex(where: { $0.owner == owner }) {
                    owners[i].variables.append(variable)
                } else {
                    owners.append((owner, [variable]))
                }
            }
            for (owner, variables) in owners {
                let keys = Set(variables.map(\.key))
                let knownClass = owner.isEmpty ? classes[layer] : nil
                let isDense = knownClass.map { $0 == "Dense" } ?? (keys.contains("kernel") && keys.isSubset(of: ["kernel", "bias"]))
                try KerasLayout.add(KerasLayout.tensors(owner: ([layer] + owner).joined(separator: "."), variables: variables,
                                                        dense: isDense ? ("kernel", "bias") : nil),
                                    to: &store)
            }
        }
        return store
    }

    /// Whether `scope` is layer `layer`'s own variable scope: its name, or its name with the
    /// `_<n>` TensorFlow appended when the graph was built twice (Keras 2.0's `conv2d_1_1/kernel:0`
    /// for layer `conv2d_1`).
    static func isScope(_ scope: String, of layer: String) -> Bool {
        guard scope != layer else { return true }
        guard scope.hasPrefix(layer + "_") else { return false }
        let suffix = scope.dropFirst(layer.count + 1)
        return !suffix.isEmpty && suffix.allSatisfy(\.isNumber)
    }

    /// `dense/kernel:0` → ["dense", "kernel"].
    static func variablePath(_ weightName: String) -> [String] {
        var name = Substring(weightName)
        if let colon = name.lastIndex(of: ":"), !name[name.index(after: colon)...].isEmpty,
           name[name.index(after: colon)...].allSatisfy(\.isNumber) {
            name = name[..<colon]
        }
        return name.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    }

    /// Layer name → class name from a `model_config` JSON string (Sequential or Functional; the
    /// layers list under `config`, or `config` itself being the list in Keras ≤ 2.2).
    static func layerClasses(_ modelConfig: String?, file: String) throws -> [String: String] {
        guard let modelConfig else { return [:] }
        let json: JSONValue
        do { json = try JSONParser.parse(Array(modelConfig.utf8)) } catch let error as JSONParser.Error {
            throw CheckpointError.invalidConfig(file: file, field: "model_config", reason: "invalid JSON: \(error.description)")
        }
        let layers = json["config"]?["layers"]?.array ?? json["config"]?.array ?? []
        var classes: [String: String] = [:]
        for layer in layers {
            guard let className = layer["class_name"]?.string,
                  let name = layer["config"]?["name"]?.string ?? layer["name"]?.string else { continue }
            classes[name] = className
        }
        return classes
    }
}
