import NanoModels
import NanoTensor

/// Re-estimates the moving mean and variance of every BatchNormalization layer of a Keras graph
/// from images (adaptive BatchNorm, as EagleEye evaluates pruned candidates): after channels are
/// removed, the layers before a BatchNormalization see other inputs than the statistics it stored
/// describe. Layers are visited in graph order, each with the statistics of the ones before it
/// already replaced; the mean and (population) variance run over every image and position.
public enum KerasBatchNormRecalibration {
    /// Replaces the statistics in place; returns the names of the layers recalibrated.
    @discardableResult
    public static func apply(to model: KerasGraphModel, images: [[Float]]) -> [String] {
        guard !images.isEmpty else { return [] }
        let shape = model.configuration.inputShape
        let x = Variable(Tensor(shape: [images.count] + shape, scalars: images.flatMap { $0 }))
        var done: [String] = []
        for layer in model.configuration.layers where layer.kind == .batchNormalization {
            guard let bn = model.modules.first(where: { $0.name == layer.name })?.module as? BatchNormalization,
                  let input = layer.inputs.first,
                  let value = model.outputs(x, tape: Tape(recording: false))[input]?.value else { continue }
            let c = bn.channels
            var sum = [Double](repeating: 0, count: c), squares = [Double](repeating: 0, count: c)
            for (i, v) in value.scalars.enumerated() {
                sum[i % c] += Double(v)
                squares[i % c] += Double(v) * Double(v)
            }
            let n = Double(value.scalars.count / c)
            let mean = sum.map { $0 / n }
            let variance = zip(squares, mean).map { Swift.max(0, $0 / n - $1 * $1) }
            _ = model.replaceChild(layer.name, with: BatchNormalization(
                gamma: bn.gamma?.value, beta: bn.beta?.value,
                movingMean: Tensor(shape: [c], scalars: mean.map(Float.init)),
                movingVariance: Tensor(shape: [c], scalars: variance.map(Float.init)), epsilon: bn.epsilon))
            done.append(layer.name)
        }
        return done
    }
}
