import NanoModels
import NanoTensor

/// Channel pruning of a Keras convolutional graph: whole output channels of Conv2D and
/// SeparableConv2D layers are removed, physically, from every tensor that writes or reads them.
/// Channels are removed per `KerasChannelGroups` group, so the branches of a residual Add lose the
/// same channels and shapes stay consistent.
///
/// For a group keeping channels K: its producers keep output columns K of their kernel (the
/// pointwise kernel of a separable one) and bias; its BatchNormalization layers keep γ, β and
/// the moving statistics at K; its depthwise layers keep their kernel slices and bias at K; the
/// layers reading it keep input channels K (a Conv2D's kernel, a SeparableConv2D's depthwise
/// kernel and the matching pointwise rows, a Dense layer's weight columns). Removing a channel
/// whose producers write zeros (zero filter, zero bias and BatchNormalization shift) leaves the
/// model's function unchanged, which the tests check.
public enum KerasChannelPruning {
    /// What happened to one group.
    public struct GroupChange: Equatable {
        public var producers: [String]
        public var before: Int
        public var after: Int
    }

    /// Per channel of `group`: the L2 norm of all its producers' filters after BatchNormalization
    /// folding (the norm of everything that writes the channel, the scale the next layers see).
    public static func importance(of group: KerasChannelGroups.Group, folded: KerasGraphModel) -> [Float] {
        let modules = Dictionary(folded.modules, uniquingKeysWith: { a, _ in a })
        var squares = [Float](repeating: 0, count: group.channels)
        for name in group.producers {
            let kernel: Tensor
            switch modules[name] {
            case let conv as Conv2D: kernel = conv.kernel.value
            case let separable as DepthwiseConv2D where separable.pointwiseKernel != nil: kernel = separable.pointwiseKernel!.value
            default: continue
            }
            let out = kernel.shape[3]
            precondition(out == group.channels, "KerasChannelPruning: \(name) writes \(out) channels, its group has \(group.channels)")
            for (i, w) in kernel.scalars.enumerated() { squares[i % out] += w * w }
        }
        return squares.map { $0.squareRoot() }
    }

    /// Keeps channels `kept[g]` (ascending) of each group g named, rewriting the model's layers in
    /// place; groups not named keep all channels.
    public static func apply(to model: KerasGraphModel, groups: KerasChannelGroups, kept: [Int: [Int]]) -> [GroupChange] {
        let c = model.configuration
        let modules = Dictionary(model.modules, uniquingKeysWith: { a, _ in a })
        for layer in c.layers {
            guard let module = modules[layer.name] else { continue }
            let input = layer.inputs.first.flatMap { groups.groupOf[$0] }.flatMap { kept[$0] }
            let output = groups.groupOf[layer.name].flatMap { kept[$0] }
            guard input != nil || output != nil else { continue }
            let replacement: ParameterContainer
            switch module {
            case let conv as Conv2D:
                var k = conv.kernel.value, b = conv.bias?.value
                if let input { k = select(k, axis: 2, input) }
                if let output { k = select(k, axis: 3, output); b = b.map { select($0, axis: 0, output) } }
                replacement = Conv2D(kernel: k, bias: b, geometry: conv.geometry)
            case let dw as DepthwiseConv2D:
                var d = dw.depthwiseKernel.value, p = dw.pointwiseKernel?.value, b = dw.bias?.value
                let multiplier = d.shape[3]
                if let input {
                    d = select(d, axis: 2, input)
                    if p != nil {
                        p = select(p!, axis: 2, input.flatMap { c in (0..<multiplier).map { c * multiplier + $0 } })
                    } else {
                        // Multiplier 1 (others are fixed groups): the output channels are the input's.
                        b = b.map { select($0, axis: 0, input) }
                    }
                }
                if let output, p != nil { p = select(p!, axis: 3, output); b = b.map { select($0, axis: 0, output) } }
                replacement = DepthwiseConv2D(depthwiseKernel: d, pointwiseKernel: p, bias: b, geometry: dw.geometry)
            case let bn as BatchNormalization:
                guard let output else { continue }
                replacement = BatchNormalization(gamma: bn.gamma.map { select($0.value, axis: 0, output) },
                                                 beta: bn.beta.map { select($0.value, axis: 0, output) },
                                                 movingMean: select(bn.movingMean.value, axis: 0, output),
                                                 movingVariance: select(bn.movingVariance.value, axis: 0, output), epsilon: bn.epsilon)
            case let dense as Linear:
                guard let input else { continue }
                // Dense weights are [out, in]: the input channels are columns.
                replacement = Linear(weight: select(dense.weight.value, axis: 1, input), bias: dense.bias?.value)
            default:
                continue
            }
            _ = model.replaceChild(layer.name, with: replacement)
        }
        return kept.keys.sorted().map { g in
            GroupChange(producers: groups.groups[g].producers, before: groups.groups[g].channels, after: kept[g]!.count)
        }
    }

    /// `t` keeping only `indices` along `axis`, in that order.
    static func select(_ t: Tensor, axis: Int, _ indices: [Int]) -> Tensor {
        let shape = t.shape
        let outer = shape[..<axis].reduce(1, *), inner = shape[(axis + 1)...].reduce(1, *), n = shape[axis]
        let src = t.scalars
        var out = [Float]()
        out.reserveCapacity(outer * indices.count * inner)
        for o in 0..<outer {
            for i in indices {
                let base = (o * n + i) * inner
                out.append(contentsOf: src[base..<(base + inner)])
            }
        }
        var newShape = shape
        newShape[axis] = indices.count
        return Tensor(shape: newShape, scalars: out)
    }
}
