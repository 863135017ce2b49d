import NanoModels

/// The channel spaces of a Keras functional graph: which layer outputs share one set of channels,
/// so that removing channel j must remove it from all of them at once.
///
/// A Conv2D or SeparableConv2D (its pointwise kernel) starts a channel space of its `filters`.
/// BatchNormalization, activations, Dropout, pooling and a DepthwiseConv2D with depth multiplier
/// 1 carry their input's space to their output. A residual Add joins the spaces of all its inputs
/// and its output into one group: the branches of a residual block must lose the same channels.
/// The model's input, the output layer, Dense outputs, Concatenate, Flatten of a spatial tensor
/// and a depthwise multiplier above 1 fix the spaces they touch (nanoforge does not prune through
/// them); a group is prunable when it is not fixed and has at least one producer.
public struct KerasChannelGroups {
    /// One set of layer outputs sharing their channels.
    public struct Group: Equatable {
        /// The layers whose outputs carry the group's channels, in graph order.
        public var members: [String]
        /// The Conv2D / SeparableConv2D layers that write the channels.
        public var producers: [String]
        public var channels: Int
        /// Why the group cannot lose channels (nil: it can).
        public var fixedBecause: String?
    }

    public private(set) var groups: [Group]
    /// The group index of each layer's output.
    public let groupOf: [String: Int]

    public init(_ c: KerasGraphConfiguration, shapes: [String: [Int]]) {
        var parent = Array(0..<c.layers.count)
        func find(_ i: Int) -> Int {
            var i = i
            while parent[i] != i { parent[i] = parent[parent[i]]; i = parent[i] }
            return i
        }
        func union(_ a: Int, _ b: Int) { parent[find(a)] = find(b) }
        let index = Dictionary(uniqueKeysWithValues: c.layers.enumerated().map { ($1.name, $0) })
        var fixed: [Int: String] = [:]
        func fix(_ layer: String, _ reason: String) { if let i = index[layer], fixed[i] == nil { fixed[i] = reason } }
        for (i, layer) in c.layers.enumerated() {
            let inputs = layer.inputs.compactMap { index[$0] }
            switch layer.kind {
            case .input: fixed[i] = "it is the model's input"
            case .conv2d, .separableConv2d: break
            case .depthwiseConv2d:
                if (layer.depthMultiplier ?? 1) == 1 {
                    inputs.forEach { union(i, $0) }
                } else {
                    layer.inputs.forEach { fix($0, "depthwise layer '\(layer.name)' has depth multiplier \(layer.depthMultiplier ?? 1)") }
                    fixed[i] = "it is the output of depthwise layer '\(layer.name)' with depth multiplier \(layer.depthMultiplier ?? 1)"
                }
            case .batchNormalization, .activation, .dropout, .maxPool2d, .avgPool2d, .globalAvgPool2d, .add:
                inputs.forEach { union(i, $0) }
            case .flatten:
                let spatial = layer.inputs.first.flatMap { shapes[$0] }.map { $0.dropLast().reduce(1, *) } ?? 0
                if spatial == 1 {
                    inputs.forEach { union(i, $0) }
                } else {
                    layer.inputs.forEach { fix($0, "Flatten '\(layer.name)' mixes its channels with positions") }
                    fixed[i] = "it is the output of Flatten '\(layer.name)'"
                }
            case .concatenate:
                layer.inputs.forEach { fix($0, "Concatenate '\(layer.name)' reads it") }
                fixed[i] = "it is the output of Concatenate '\(layer.name)'"
            case .dense:
                fixed[i] = "it is the output of Dense '\(layer.name)'"
            }
        }
        fix(c.output, "it is the model's output")
        var rootToGroup: [Int: Int] = [:]
        var groups: [Group] = []
        for (i, layer) in c.layers.enumerated() {
            let root = find(i)
            let g: Int
            if let existing = rootToGroup[root] {
                g = existing
            } else {
                g = groups.count
                rootToGroup[root] = g
                groups.append(Group(members: [], producers: [], channels: shapes[layer.name]?.last ?? 0, fixedBecause: nil))
            }
            groups[g].members.append(layer.name)
            if layer.kind == .conv2d || layer.kind == .separableConv2d { groups[g].producers.append(layer.name) }
            if let reason = fixed[i], groups[g].fixedBecause == nil { groups[g].fixedBecause = "'\(layer.name)': \(reason)" }
        }
        for g in groups.indices where groups[g].fixedBecause == nil && groups[g].producers.isEmpty {
            groups[g].fixedBecause = "no Conv2D or SeparableConv2D writes it"
        }
        self.groups = groups
        self.groupOf = Dictionary(uniqueKeysWithValues: groups.enumerated().flatMap { g, group in group.members.map { ($0, g) } })
    }
}
