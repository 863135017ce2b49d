import NanoTensor

/// A layer whose output channels can each be divided by a factor by changing its own parameters
/// only: a norm (its output is `γ ⊙ n(x) (+ β)`, linear in γ and β per channel) or a Linear layer
/// (each output is one row of the weight, plus its bias).
public enum SmoothingProducer {
    case rmsNorm(RMSNorm)
    case layerNorm(LayerNorm)
    case linear(Linear)

    /// The norm behind a block's `Norm`.
    public init(_ norm: Norm) {
        switch norm {
        case .rms(let n): self = .rmsNorm(n)
        case .layer(let n): self = .layerNorm(n)
        }
    }

    /// The module whose parameters change.
    public var module: ParameterContainer {
        switch self {
        case .rmsNorm(let n): return n
        case .layerNorm(let n): return n
        case .linear(let l): return l
        }
    }

    /// The number of output channels.
    public var channels: Int {
        switch self {
        case .rmsNorm(let n): return n.weight.value.count
        case .layerNorm(let n): return n.weight.value.count
        case .linear(let l): return l.outFeatures
        }
    }

    /// Output channel `j` becomes the old one divided by `scales[j]`.
    func divideOutputs(by scales: [Float]) {
        func divide(_ v: Variable) {
            for j in scales.indices { v.value.scalars[j] /= scales[j] }
        }
        switch self {
        case .rmsNorm(let n): divide(n.weight)
        case .layerNorm(let n): divide(n.weight); divide(n.bias)
        case .linear(let l):
            let columns = l.inFeatures
            l.weight.value.scalars.withUnsafeMutableBufferPointer { w in
                for j in scales.indices {
                    for c in (j * columns)..<((j + 1) * columns) { w[c] /= scales[j] }
                }
            }
            if let bias = l.bias { divide(bias) }
        }
    }
}

/// One producer and every Linear layer that reads its output, such that dividing the producer's
/// output channel `j` by `s[j]` and multiplying column `j` of each consumer by `s[j]` leaves the
/// model's function unchanged (up to float rounding). Activation-aware quantization (AWQ) and
/// SmoothQuant choose such scales to move quantization difficulty between activations and weights.
///
/// The family guarantees what makes the fold exact: the consumers are *all* the readers of the
/// producer's output, and they read it linearly, channel for channel (a pre-norm's output feeds
/// only the projections; a post-norm's output is also the residual stream, so it is no producer).
public struct SmoothingGroup {
    public let producer: SmoothingProducer
    public let consumers: [Linear]

    /// A group; each consumer must read exactly the producer's channels.
    public init(producer: SmoothingProducer, consumers: [Linear]) {
        precondition(!consumers.isEmpty, "smoothing group: no consumers")
        precondition(consumers.allSatisfy { $0.inFeatures == producer.channels },
                     "smoothing group: consumers \(consumers.map(\.weight.shape)) do not read the producer's \(producer.channels) channels")
        self.producer = producer
        self.consumers = consumers
    }

    /// Folds `scales` (one positive factor per channel) into the group: the producer's outputs
    /// are divided by them, the consumers' input columns multiplied.
    public func fold(_ scales: [Float]) {
        precondition(scales.count == producer.channels, "smoothing group: \(scales.count) scales for \(producer.channels) channels")
        producer.divideOutputs(by: scales)
        for consumer in consumers {
            let columns = consumer.inFeatures
            consumer.weight.value.scalars.withUnsafeMutableBufferPointer { w in
                for r in 0..<consumer.outFeatures {
                    for j in 0..<columns { w[r * columns + j] *= scales[j] }
                }
            }
        }
    }
}

/// A model that lists its smoothing groups, in the order data flows through them (a producer's
/// own group comes after the group in which it is a consumer). Optional: a family that does not
/// conform has none, and passes that need them say so.
public protocol ChannelSmoothingModel: ParameterContainer {
    /// Every group of the model, in data-flow order.
    var smoothingGroups: [SmoothingGroup] { get }
}
