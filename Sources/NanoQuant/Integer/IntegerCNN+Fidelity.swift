import Foundation
import NanoModels
import NanoTensor

extension IntegerCNN {
    /// How the int8 model (what the C export computes, bit for bit) compares with the float model.
    public struct Fidelity: Equatable, Sendable {
        public var images: Int
        /// Share of images whose int8 argmax is the float model's.
        public var agreement: Double
        /// Mean KL(p_float ‖ p_int8) of the softmax of the float logits and of the dequantized int8 logits, in nats.
        public var meanKL: Double
    }

    /// Runs both models on `images` (NHWC rows of `inputCount` values).
    public func fidelity(to model: KerasGraphModel, images: [[Float]]) -> Fidelity {
        let tape = Tape(recording: false)
        var agree = 0, kl = 0.0
        for start in stride(from: 0, to: images.count, by: 16) {
            let rows = Array(images[start..<Swift.min(start + 16, images.count)])
            let logits = model.classLogits(Variable(NanoTensor.Tensor(shape: [rows.count, inputCount], scalars: rows.flatMap { $0 })), tape: tape).value
            let classes = logits.shape[1]
            for (k, row) in rows.enumerated() {
                let c = Self.compareLogits(Array(logits.scalars[k * classes..<(k + 1) * classes]), dequantizedLogits(row))
                if c.sameTop { agree += 1 }
                kl += c.kl
            }
        }
        let n = Swift.max(1, images.count)
        return Fidelity(images: images.count, agreement: Double(agree) / Double(n), meanKL: kl / Double(n))
    }

    /// The activation clipping `calibrated` tries: min/max (nil) and these percentiles.
    public static let clippingCandidates: [Double?] = [nil, 99.99, 99.999, 99.9999]

    /// The integer model whose activation ranges (min/max or a percentile of `clippingCandidates`)
    /// give the lowest mean KL(fp32 ‖ int8) on the calibration images themselves: a per-model
    /// choice, as an MSE observer makes per tensor, that never looks at evaluation data.
    public static func calibrated(_ model: KerasGraphModel, features: [[Float]], file: String)
        throws -> (model: IntegerCNN, percentile: Double?, calibrationKL: Double) {
        var best: (model: IntegerCNN, percentile: Double?, calibrationKL: Double)?
        for p in clippingCandidates {
            let candidate = try IntegerCNN(calibrating: model, features: features, file: file, percentile: p)
            let kl = candidate.fidelity(to: model, images: features).meanKL
            if best == nil || kl < best!.calibrationKL { best = (candidate, p, kl) }
        }
        return best!
    }

    /// One image's comparison: whether the two softmaxes (in Double) have the same argmax (the
    /// first index of the largest value), and KL(softmax(reference) ‖ softmax(logits)) in nats.
    /// The pipeline's `fidelity` task compares class logits with this same function, so its
    /// `same_top` and `kl_mean` are these numbers.
    public static func compareLogits(_ reference: [Float], _ logits: [Float]) -> (sameTop: Bool, kl: Double) {
        let p = softmax(reference), q = softmax(logits)
        let kl = zip(p, q).reduce(0) { $0 + ($1.0 > 0 ? $1.0 * log($1.0 / Swift.max($1.1, 1e-300)) : 0) }
        return (argmax(p) == argmax(q), kl)
    }

    /// The first index of the largest value (as the C export's prediction breaks ties).
    static func argmax(_ v: [Double]) -> Int {
        var best = 0
        for i in v.indices where v[i] > v[best] { best = i }
        return best
    }

    /// Softmax in Double.
    static func softmax(_ z: [Float]) -> [Double] {
        let m = Double(z.max() ?? 0)
        let e = z.map { exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }
}
