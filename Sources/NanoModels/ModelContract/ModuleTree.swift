/// The one traversal of a model's modules: walk them with their dotted paths (the checkpoint names
/// of their parameters without `.weight`/`.bias`), find one, replace one. Passes select their layers
/// from this walk (NanoForge's `LayerSelector` over `layers(of:)`), so no pass or family keeps its
/// own list of layer names.
extension ParameterContainer {
    /// Calls `visit` with every module below this one and its path, depth first, in parameter order.
    public func walkModules(prefix: String = "", _ visit: (String, ParameterContainer) -> Void) {
        for child in children {
            let path = join(prefix, child.name)
            visit(path, child.module)
            child.module.walkModules(prefix: path, visit)
        }
    }

    /// Every module below this one with its path, in parameter order.
    public var namedModules: [(path: String, module: ParameterContainer)] {
        var list: [(path: String, module: ParameterContainer)] = []
        walkModules { list.append(($0, $1)) }
        return list
    }

    /// The modules of type `M` (`Linear`, `Embedding`, …) with their paths, in parameter order.
    public func layers<M>(of type: M.Type) -> [(name: String, layer: M)] {
        var list: [(name: String, layer: M)] = []
        walkModules { path, module in if let layer = module as? M { list.append((path, layer)) } }
        return list
    }

    /// The module at `path`, or nil.
    public func module(at path: String) -> ParameterContainer? {
        var found: ParameterContainer?
        walkModules { p, module in if found == nil && p == path { found = module } }
        return found
    }

    /// Puts `module` in place of the module at `path`; false when no container holds a child
    /// there that it can replace (see `ParameterContainer.replaceChild`).
    @discardableResult
    public func replaceModule(at path: String, with module: ParameterContainer) -> Bool {
        var parents: [(path: String, module: ParameterContainer)] = [("", self)]
        walkModules { parents.append(($0, $1)) }
        for parent in parents {
            for child in parent.module.children where join(parent.path, child.name) == path {
                return parent.module.replaceChild(child.name, with: module)
            }
        }
        return false
    }
}
