import Foundation

/// The learning rate as a function of the step: constant, or a linear warm-up followed by a
/// cosine or linear decay to `minimum` at `totalSteps`.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Decay: String, Codable, Sendable { case constant, cosine, linear }

    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    public var minimum: Float

    public init(peak: Float, warmupSteps: Int = 0, totalSteps: Int = 0, decay: Decay = .constant, minimum: Float = 0) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
        self.decay = decay; self.minimum = minimum
    }

    public static func constant(_ lr: Float) -> LearningRateSchedule { .init(peak: lr) }

    /// The rate for 0-based `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = totalSteps - warmupSteps
        guard decay != .constant, span > 0 else { return peak }
        let progress = Float(Swift.min(step - warmupSteps, span)) / Float(span)
        switch decay {
        case .constant: return peak
        case .linear: return minimum + (peak - minimum) * (1 - progress)
        case .cosine: return minimum + (peak - minimum) * 0.5 * (1 + Foundation.cos(Float.pi * progress))
        }
    }
}
