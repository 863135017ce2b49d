import NanoTensor

/// Anything that owns trainable parameters under checkpoint-style dotted names.
///
/// Containers report their children's parameters with the child's name as a prefix, so a model's
/// names read like the checkpoint it came from (`blocks.0.attn.q_proj.weight`).
///
/// A model is a tree of such modules: containers list their direct `children` by name (a name may
/// hold dots, as BERT's `attention.self.query`), leaf layers (`Linear`, `Embedding`, norms) report
/// their own parameters. `ModuleTree` walks the tree; every pass selects its layers through it.
public protocol ParameterContainer: AnyObject {
    /// Calls `visit` with each parameter's full name (prefix + own name) and its variable.
    /// Containers get it from `children`; leaf layers implement it.
    func visitParameters(prefix: String, _ visit: (String, Variable) -> Void)
    /// The direct child modules with their names, in parameter order; empty for leaf layers.
    var children: [(name: String, module: ParameterContainer)] { get }
    /// Puts `module` in place of the child `name`; false when this container cannot (no such
    /// child, or a child it does not hold by a replaceable reference).
    func replaceChild(_ name: String, with module: ParameterContainer) -> Bool
}

extension ParameterContainer {
    public var children: [(name: String, module: ParameterContainer)] { [] }

    public func replaceChild(_ name: String, with module: ParameterContainer) -> Bool { false }

    /// The parameters of every child, under the child's name.
    public func visitParameters(prefix: String, _ visit: (String, Variable) -> Void) {
        for child in children { visitChild(child.module, child.name, prefix: prefix, visit) }
    }

    /// All parameters with their dotted names, in a stable order.
    public var namedParameters: [(name: String, variable: Variable)] {
        var list: [(String, Variable)] = []
        visitParameters(prefix: "") { list.append(($0, $1)) }
        return list
    }

    /// All parameters, in the order of `namedParameters`.
    public var parameters: [Variable] { namedParameters.map(\.variable) }

    /// The total number of scalar parameters.
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.count } }

    /// Clears every parameter's gradient.
    public func zeroGradients() { for p in parameters { p.zeroGrad() } }

    /// Joins a prefix and a child name with a dot.
    public func join(_ prefix: String, _ name: String) -> String { prefix.isEmpty ? name : prefix + "." + name }
}

/// Visits a child container under `name`, or a list of them under `name.0`, `name.1`, ….
public func visitChild(_ child: ParameterContainer?, _ name: String, prefix: String, _ visit: (String, Variable) -> Void) {
    guard let child else { return }
    child.visitParameters(prefix: prefix.isEmpty ? name : prefix + "." + name, visit)
}

public func visitChildren(_ children: [ParameterContainer], _ name: String, prefix: String, _ visit: (String, Variable) -> Void) {
    for (i, child) in children.enumerated() { visitChild(child, "\(name).\(i)", prefix: prefix, visit) }
}
