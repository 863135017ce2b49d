import NanoQuant
import NanoTensor

/// The activation grids of a full-integer int8 CNN (`IntegerCNN`) with learned step sizes, for
/// QAT on a Keras graph (`qat`'s `learn_ranges`): LSQ (Esser et al., "Learned Step Size
/// Quantization", ICLR 2020) applied to every int8 tensor's scale.
///
/// - One trainable scale per grid, initialised to the calibrated grid's scale; the zero points
///   stay the calibrated ones (integers, as the integer model needs; only the scales learn, as
///   `LearnedStepSize` does for asymmetric weights).
/// - Tensors that the integer model keeps on their input's grid (a max pool's output, a
///   standalone ReLU clamp's) share their input's scale, so the learned grids are ones the
///   integer model can have.
/// - Forward: `QuantizationNumerics.fakeQuantize` on codes −128…127; gradients:
///   `QuantizationNumerics.lsqActivationGradients` (straight-through inside the grid, LSQ's step
///   gradient scaled by 1 / √(N · Qp)).
/// `grids` gives the learned grid of every tensor, which `IntegerCNN(calibrating:…, grids:)`
/// builds the integer model with.
public final class LearnedActivationGrids {
    /// [slots]: the learned scales (trained by the loop's AdamW beside the weights).
    public let scales: Variable
    /// The calibrated zero point of each slot.
    public let zeroPoints: [Int32]
    /// The calibrated scale of each slot (the initial value of `scales`).
    public let initialScales: [Float]
    /// The slot of each tensor of the integer model, by tensor index.
    public let slotOfTensor: [Int]
    /// The integer model's tensor names, by tensor index.
    public let tensorNames: [String]

    public init(_ integer: IntegerCNN) {
        // A max pool or clamp writes onto its input's grid: follow such edges to the tensor that owns the grid.
        var tiedTo = [Int?](repeating: nil, count: integer.tensors.count)
        for op in integer.operations {
            switch op.kind {
            case .maxPool, .clamp: tiedTo[op.output] = op.inputs[0]
            default: break
            }
        }
        var slots: [Int] = [], owners: [Int: Int] = [:]
        var zeroPoints: [Int32] = [], initial: [Float] = []
        for t in integer.tensors.indices {
            var owner = t
            while let next = tiedTo[owner] { owner = next }
            if let slot = owners[owner] {
                slots.append(slot)
            } else {
                owners[owner] = initial.count
                slots.append(initial.count)
                zeroPoints.append(integer.tensors[owner].grid.zeroPoint)
                initial.append(integer.tensors[owner].grid.scale)
            }
        }
        self.slotOfTensor = slots
        self.zeroPoints = zeroPoints
        self.initialScales = initial
        self.tensorNames = integer.tensors.map(\.name)
        self.scales = Variable(Tensor(shape: [initial.count], scalars: initial), requiresGrad: true)
    }

    /// The grid of `slot` now.
    public func grid(slot: Int) -> QuantizationParameters {
        QuantizationParameters(scale: QuantizationNumerics.lsqScale(scales.value.scalars[slot]), zeroPoint: zeroPoints[slot])
    }

    /// Every tensor's learned grid, by the integer model's tensor name.
    public var grids: [String: QuantizationParameters] {
        Dictionary(tensorNames.indices.map { (tensorNames[$0], grid(slot: slotOfTensor[$0])) }, uniquingKeysWith: { a, _ in a })
    }

    /// `x` [batch, …] fake-quantized on `slot`'s grid; gradients reach `x` and `scales`.
    public func callAsFunction(_ x: Variable, slot: Int, tape: Tape) -> Variable {
        let p = grid(slot: slot)
        var q = x.value
        for i in q.scalars.indices { q.scalars[i] = QuantizationNumerics.fakeQuantize(q.scalars[i], p, qmin: -128, qmax: 127) }
        let (scales, zeroPoint, count) = (self.scales, p.zeroPoint, scales.value.count)
        let perExample = x.value.count / Swift.max(1, x.value.shape.first ?? 1)
        return tape.record(q, inputs: [x, scales]) { g, _ in
            let grads = QuantizationNumerics.lsqActivationGradients(x.value, scale: p.scale, zeroPoint: zeroPoint, outputGrad: g,
                                                                   featuresPerExample: perExample)
            var gs = Tensor.zeros([count])
            gs.scalars[slot] = grads.scale
            return [grads.input, gs]
        }
    }
}
