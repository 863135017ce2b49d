import NanoTensor

/// Random, seeded changes to an NHWC image that keep what it shows: a left–right flip with
/// probability 1/2, a shift of up to `maxShift` pixels each way (edge pixels repeated), and a
/// contrast and brightness change x·a + b with a ∈ [1 − `maxScale`, 1 + `maxScale`] and
/// b ∈ [−`maxOffset`, `maxOffset`]; then, with probability `mixProbability`, a blend
/// λ·x + (1 − λ)·y with another augmented training image y, λ ∈ [`minMix`, 1] (mixup: distillation
/// needs no labels, so the teacher scores the blend). Recovery training of an image classifier
/// draws one per image and step, so a few calibration images stand in for a larger training set.
public struct ImageAugmentation: Equatable, Sendable {
    public var maxShift = 4
    public var maxScale: Float = 0.1
    public var maxOffset: Float = 0.1
    public var mixProbability: Float = 0.5
    public var minMix: Float = 0.5

    public init() {}

    /// Training image `index` of `images` augmented, and blended with another one at `mixProbability`.
    public func draw(_ index: Int, of images: [[Float]], height: Int, width: Int, channels: Int, rng: inout RandomGenerator) -> [Float] {
        let x = apply(images[index], height: height, width: width, channels: channels, rng: &rng)
        guard images.count > 1, rng.nextUniform() < mixProbability else { return x }
        let y = apply(images[rng.nextInt(below: images.count)], height: height, width: width, channels: channels, rng: &rng)
        let lambda = rng.uniform(minMix, 1)
        return zip(x, y).map { lambda * $0 + (1 - lambda) * $1 }
    }

    /// `image` ([height, width, channels] flattened) augmented with draws from `rng`.
    public func apply(_ image: [Float], height: Int, width: Int, channels: Int, rng: inout RandomGenerator) -> [Float] {
        precondition(image.count == height * width * channels, "ImageAugmentation: \(image.count) values for \(height)×\(width)×\(channels)")
        let flip = rng.nextInt(below: 2) == 1
        let dy = rng.nextInt(below: 2 * maxShift + 1) - maxShift
        let dx = rng.nextInt(below: 2 * maxShift + 1) - maxShift
        let a = rng.uniform(1 - maxScale, 1 + maxScale), b = rng.uniform(-maxOffset, maxOffset)
        var out = [Float](repeating: 0, count: image.count)
        for y in 0..<height {
            let sy = Swift.min(height - 1, Swift.max(0, y + dy))
            for x in 0..<width {
                var sx = Swift.min(width - 1, Swift.max(0, x + dx))
                if flip { sx = width - 1 - sx }
                for c in 0..<channels {
                    out[(y * width + x) * channels + c] = image[(sy * width + sx) * channels + c] * a + b
                }
            }
        }
        return out
    }
}
