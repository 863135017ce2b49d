import NanoModels
import NanoQuant
import NanoTensor

/// The full-integer int8 CNN (`IntegerCNN`) simulated on a float Keras graph, for QAT: the
/// forward pass puts every weight and every int8 activation tensor on the grid the integer model
/// uses, and the backward pass is straight-through.
///
/// - Weights: int8 symmetric per output channel, min/max scales recomputed every step, on the
///   *unfolded* kernels. BatchNorm folding scales each output channel by one constant, and a
///   symmetric min/max per-channel grid scales with it, so the codes are those of the folded
///   kernel the integer model stores. Gradient: identity (as `QATPass` does for Linear layers).
/// - Activations: each tensor the integer model holds in int8 (the input, every convolution's
///   output after BatchNorm and a fused ReLU, a separable's middle, pools, Adds, the logits) on
///   that tensor's grid (scale, zero point, codes −128…127). Gradient: passed where the value lies
///   inside the grid's range, 0 where it was clamped (TensorFlow's FakeQuant gradient); a ReLU
///   fused into its convolution is this clamp at the grid's zero.
public enum IntegerCNNFakeQuantization {
    /// Symmetric int8 fake quantization of `w` with one scale per channel, channel of element i
    /// `channel(i)` (of `channels`); identity gradient.
    public static func weights(_ w: Variable, channels: Int, channel: (Int) -> Int, tape: Tape) -> Variable {
        let s = w.value.scalars
        var lo = [Float](repeating: 0, count: channels), hi = [Float](repeating: 0, count: channels)
        for i in s.indices { let c = channel(i); lo[c] = Swift.min(lo[c], s[i]); hi[c] = Swift.max(hi[c], s[i]) }
        let grids = (0..<channels).map { QuantizationNumerics.parameters(min: lo[$0], max: hi[$0], bits: 8, symmetric: true) }
        var q = w.value
        for i in s.indices { q.scalars[i] = QuantizationNumerics.fakeQuantize(s[i], grids[channel(i)], qmin: -127, qmax: 127) }
        return tape.record(q, inputs: [w]) { g, _ in [g] }
    }

    /// int8 fake quantization of an activation on `grid` (codes −128…127); the gradient passes
    /// where x lies in [(−128 − zp)·s, (127 − zp)·s] and is 0 elsewhere.
    public static func activations(_ x: Variable, grid: QuantizationParameters, tape: Tape) -> Variable {
        let lower = QuantizationNumerics.dequantize(-128, grid), upper = QuantizationNumerics.dequantize(127, grid)
        let s = x.value.scalars
        var q = x.value
        for i in s.indices { q.scalars[i] = QuantizationNumerics.fakeQuantize(s[i], grid, qmin: -128, qmax: 127) }
        return tape.record(q, inputs: [x]) { g, _ in
            var d = g
            for i in s.indices where !(s[i] >= lower && s[i] <= upper) { d.scalars[i] = 0 }
            return [d]
        }
    }

    /// Installs the simulation of `integer` (built from `model`'s weights: its tensors' grids) on
    /// `model`, each tensor where it sits in the unfolded graph; with nil, weights only. With
    /// `learned` (made from `integer`), the activation grids are its learned ones (LSQ) instead
    /// of `integer`'s fixed grids.
    /// Returns the number of weight kernels and activation tensors it fake-quantizes.
    @discardableResult
    public static func install(_ integer: IntegerCNN?, on model: KerasGraphModel,
                               learned: LearnedActivationGrids? = nil) -> (kernels: Int, activations: Int) {
        var kernels = 0
        for (_, module) in model.modules {
            switch module {
            case let conv as Conv2D:
                // [kh, kw, in, out]: the output channel is the last axis.
                let out = conv.outChannels
                conv.kernelTransform = { w, tape in weights(w, channels: out, channel: { $0 % out }, tape: tape) }
                kernels += 1
            case let dw as DepthwiseConv2D:
                // [kh, kw, C, M]: channel c·M + m is the last two axes; pointwise [1, 1, C·M, out].
                let cm = dw.depthwiseKernel.shape[2] * dw.depthwiseKernel.shape[3]
                dw.depthwiseKernelTransform = { w, tape in weights(w, channels: cm, channel: { $0 % cm }, tape: tape) }
                kernels += 1
                if let p = dw.pointwiseKernel {
                    let out = p.shape[3]
                    dw.pointwiseKernelTransform = { w, tape in weights(w, channels: out, channel: { $0 % out }, tape: tape) }
                    kernels += 1
                }
            case let dense as Linear:
                // [out, in]: one scale per row.
                let inner = dense.inFeatures
                dense.weightTransform = { w, tape in weights(w, channels: w.shape[0], channel: { $0 / inner }, tape: tape) }
                kernels += 1
            default:
                break
            }
        }
        guard let integer else { return (kernels, 0) }
        // The integer model's tensors are named after the folded graph's layers; a layer that
        // absorbed a BatchNormalization computes what that BatchNormalization outputs here.
        let foldedInto = Dictionary(KerasBatchNormFolding.fold(model).folds.map { ($0.into, $0.batchNormalization) }, uniquingKeysWith: { a, _ in a })
        // Each tensor's fake quantization: on its fixed grid, or on its learned grid's slot.
        var quantizers: [String: (Variable, Tape) -> Variable] = [:]
        let modules = Dictionary(model.modules, uniquingKeysWith: { a, _ in a })
        var activationCount = 0
        for (index, t) in integer.tensors.enumerated() {
            let quantizer: (Variable, Tape) -> Variable
            if let learned {
                let slot = learned.slotOfTensor[index]
                quantizer = { x, tape in learned(x, slot: slot, tape: tape) }
            } else {
                let grid = t.grid
                quantizer = { x, tape in activations(x, grid: grid, tape: tape) }
            }
            if t.name.hasSuffix("/depthwise"), let dw = modules[String(t.name.dropLast("/depthwise".count))] as? DepthwiseConv2D {
                dw.middleTransform = quantizer
            } else {
                quantizers[foldedInto[t.name] ?? t.name] = quantizer
            }
            activationCount += 1
        }
        model.outputTransform = { layer, x, tape in quantizers[layer].map { $0(x, tape) } ?? x }
        return (kernels, activationCount)
    }

    /// Removes every hook `install` set.
    public static func remove(from model: KerasGraphModel) {
        model.outputTransform = nil
        for (_, module) in model.modules {
            if let conv = module as? Conv2D { conv.kernelTransform = nil }
            if let dw = module as? DepthwiseConv2D { dw.depthwiseKernelTransform = nil; dw.pointwiseKernelTransform = nil; dw.middleTransform = nil }
            if let dense = module as? Linear { dense.weightTransform = nil }
        }
    }
}
