import NanoTensor

/// BatchNormalization folded into the convolution or Dense layer before it, as a rewrite of a
/// `KerasGraphModel`: the layer's kernel scaled per output channel by s = γ / √(σ² + ε) and its
/// bias becoming b·s + (β − μ·s), the BatchNormalization layer removed and its readers rewired
/// to the layer. At inference the graph computes the same function (up to float rounding), with
/// one layer fewer per pair, and an integer export sees a single affine op per convolution.
///
/// A BatchNormalization folds when its one input is a Conv2D, DepthwiseConv2D, SeparableConv2D
/// (into the pointwise kernel) or Dense layer without an activation of its own (or `linear`)
/// whose output nothing else reads and which is not the model's output. Any other stays.
public enum KerasBatchNormFolding {
    /// One fold: the BatchNormalization layer and the layer that absorbed it.
    public struct Fold: Equatable, Sendable {
        public var batchNormalization: String
        public var into: String
    }

    /// The rewritten model (a new model; `model` is left as it is) and the folds made, in graph order.
    public static func fold(_ model: KerasGraphModel) -> (model: KerasGraphModel, folds: [Fold]) {
        var c = KerasGraphArchitecture.configuration(of: model)
        var modules = model.modules
        var folds: [Fold] = []
        var i = 0
        while i < c.layers.count {
            let bn = c.layers[i]
            guard bn.kind == .batchNormalization, bn.inputs.count == 1,
                  let p = c.layers.firstIndex(where: { $0.name == bn.inputs[0] }),
                  foldable(c.layers[p], in: c),
                  let norm = modules.first(where: { $0.name == bn.name })?.module as? BatchNormalization,
                  let m = modules.firstIndex(where: { $0.name == c.layers[p].name }),
                  let folded = fold(norm, into: modules[m].module)
            else { i += 1; continue }
            let producer = c.layers[p].name
            modules[m].module = folded
            modules.removeAll { $0.name == bn.name }
            c.layers[p].useBias = true
            c.layers[p].activation = bn.activation
            c.layers.remove(at: i)
            for j in c.layers.indices {
                c.layers[j].inputs = c.layers[j].inputs.map { $0 == bn.name ? producer : $0 }
            }
            if c.output == bn.name { c.output = producer }
            folds.append(Fold(batchNormalization: bn.name, into: producer))
        }
        return (KerasGraphModel(configuration: c, modules: modules), folds)
    }

    /// Whether `layer`'s output can absorb a BatchNormalization: an affine kind, no activation,
    /// read by exactly one layer and not the model's output.
    static func foldable(_ layer: KerasLayer, in c: KerasGraphConfiguration) -> Bool {
        guard [.conv2d, .depthwiseConv2d, .separableConv2d, .dense].contains(layer.kind),
              layer.activation == nil || layer.activation == .linear, c.output != layer.name else { return false }
        return c.layers.reduce(0) { $0 + $1.inputs.filter { $0 == layer.name }.count } == 1
    }

    /// Per output channel: the scale s and shift β − μ·s of `norm`, computed as its forward pass
    /// computes them (1 / √(σ² + ε), then times γ).
    static func affine(_ norm: BatchNormalization) -> (scale: [Float], shift: [Float]) {
        let mean = norm.movingMean.value.scalars, variance = norm.movingVariance.value.scalars
        let gamma = norm.gamma?.value.scalars, beta = norm.beta?.value.scalars
        var scale = [Float](repeating: 0, count: mean.count), shift = scale
        for c in mean.indices {
            var s = 1 / (variance[c] + norm.epsilon).squareRoot()
            if let gamma { s *= gamma[c] }
            scale[c] = s
            shift[c] = (beta?[c] ?? 0) - mean[c] * s
        }
        return (scale, shift)
    }

    /// `module` with `norm` folded in, or nil when the channel counts disagree or the module is
    /// not an affine layer.
    static func fold(_ norm: BatchNormalization, into module: ParameterContainer) -> ParameterContainer? {
        let (scale, shift) = affine(norm)
        // The bias after folding: b·s + shift.
        func bias(_ b: Variable?) -> Tensor {
            let old = b?.value.scalars ?? [Float](repeating: 0, count: scale.count)
            return Tensor(shape: [scale.count], scalars: (0..<scale.count).map { old[$0] * scale[$0] + shift[$0] })
        }
        // A kernel whose last axis is the output channel, each column scaled.
        func scaledLastAxis(_ k: Tensor) -> Tensor {
            let n = k.shape[k.rank - 1]
            var s = k.scalars
            for j in s.indices { s[j] *= scale[j % n] }
            return Tensor(shape: k.shape, scalars: s)
        }
        switch module {
        case let conv as Conv2D where conv.outChannels == scale.count:
            return Conv2D(kernel: scaledLastAxis(conv.kernel.value), bias: bias(conv.bias), geometry: conv.geometry)
        case let dw as DepthwiseConv2D where dw.outChannels == scale.count:
            if let pointwise = dw.pointwiseKernel {
                return DepthwiseConv2D(depthwiseKernel: dw.depthwiseKernel.value, pointwiseKernel: scaledLastAxis(pointwise.value),
                                       bias: bias(dw.bias), geometry: dw.geometry)
            }
            // [kh, kw, C, M]: output channel c·M + m is the flat index mod C·M.
            let k = dw.depthwiseKernel.value
            let cm = k.shape[2] * k.shape[3]
            var s = k.scalars
            for j in s.indices { s[j] *= scale[j % cm] }
            return DepthwiseConv2D(depthwiseKernel: Tensor(shape: k.shape, scalars: s), pointwiseKernel: nil,
                                   bias: bias(dw.bias), geometry: dw.geometry)
        case let dense as Linear where dense.outFeatures == scale.count:
            // [out, in]: row o scaled by s[o].
            let w = dense.weight.value
            let inputs = dense.inFeatures
            var s = w.scalars
            for j in s.indices { s[j] *= scale[j / inputs] }
            return Linear(weight: Tensor(shape: w.shape, scalars: s), bias: bias(dense.bias))
        default:
            return nil
        }
    }
}
