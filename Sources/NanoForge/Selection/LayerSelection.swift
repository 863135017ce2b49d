import NanoModels

extension LayerKind {
    /// The kind of a module, nil for containers and layers a recipe cannot name.
    public init?(of module: ParameterContainer) {
        switch module {
        case is Linear: self = .linear
        case is Embedding: self = .embedding
        case is LayerNorm: self = .layerNorm
        case is RMSNorm: self = .rmsNorm
        default: return nil
        }
    }
}

extension LayerSelector {
    /// The layers of `model` this selector takes, with their paths, in parameter order: one walk
    /// of the module tree (`ParameterContainer.walkModules`), each layer's kind from its type.
    /// Every pass selects its layers here.
    public func layers<M: ParameterContainer>(_ type: M.Type, in model: ParameterContainer) -> [(name: String, layer: M)] {
        var list: [(name: String, layer: M)] = []
        model.walkModules { path, module in
            if let layer = module as? M, let kind = LayerKind(of: module), selects(name: path, kind: kind) { list.append((path, layer)) }
        }
        return list
    }
}
