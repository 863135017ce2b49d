/// The integer kernels of a CNN's C export in Swift (what `IntegerCNN` runs) and, in `cSource`,
/// their C twins in `model.c`. Each pair does the same int32 arithmetic; the loops may visit
/// terms in another order, which cannot change a result because `IntegerCNN` proves that no
/// int32 sum overflows. Activations are int8 NHWC ([height, width, channels] of one image).
/// Requantization goes through `FixedPoint` (TFLite's `MultiplyByQuantizedMultiplier`).
public enum IntegerKernels {
    /// The shape of a convolution or pooling window and the tensors around it.
    public struct Window: Equatable, Sendable {
        public var inHeight: Int, inWidth: Int, inChannels: Int
        public var outHeight: Int, outWidth: Int, outChannels: Int
        public var kernelHeight: Int, kernelWidth: Int
        public var strideHeight: Int, strideWidth: Int
        public var dilationHeight: Int, dilationWidth: Int
        public var padTop: Int, padLeft: Int
    }

    /// A 2-D convolution, TFLite / CMSIS-NN style: y[p, o] = clamp(M[o]·(bias[o] + Σ (x − zpIn)·w) + zpOut).
    /// With `depthMultiplier` 0 the weights are [out][kh][kw][in] (a Conv2D, a pointwise kernel or
    /// a Dense layer as a 1×1 convolution); with `depthMultiplier` m ≥ 1 the convolution is
    /// depthwise, weights [out][kh][kw], output channel o reading input channel o / m.
    /// Padding positions add nothing: (x − zpIn) is 0 for the real value 0.
    public static func convolution(_ x: [Int8], _ g: Window, weights: [Int8], bias: [Int32],
                                   multipliers: [FixedPoint.Multiplier], depthMultiplier: Int,
                                   inputZeroPoint: Int32, outputZeroPoint: Int32,
                                   activationMinimum: Int32, activationMaximum: Int32) -> [Int8] {
        precondition(x.count == g.inHeight * g.inWidth * g.inChannels && bias.count == g.outChannels, "convolution: sizes disagree")
        var y = [Int8](repeating: 0, count: g.outHeight * g.outWidth * g.outChannels)
        let taps = g.kernelHeight * g.kernelWidth
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for o in 0..<g.outChannels {
                    var acc = bias[o]
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
                            if ix < 0 || ix >= g.inWidth { continue }
                            let pixel = (iy * g.inWidth + ix) * g.inChannels
                            if depthMultiplier > 0 {
                                let xv = Int32(x[pixel + o / depthMultiplier]) - inputZeroPoint
                                acc += xv * Int32(weights[o * taps + ky * g.kernelWidth + kx])
                            } else {
                                let row = (o * taps + ky * g.kernelWidth + kx) * g.inChannels
                                for c in 0..<g.inChannels {
                                    acc += (Int32(x[pixel + c]) - inputZeroPoint) * Int32(weights[row + c])
                                }
                            }
                        }
                    }
                    let v = FixedPoint.multiply(acc, by: multipliers[o]) + outputZeroPoint
                    y[(oy * g.outWidth + ox) * g.outChannels + o] = Int8(Swift.min(Swift.max(v, activationMinimum), activationMaximum))
                }
            }
        }
        return y
    }

    /// Max pooling on the input's own grid (the output shares its scale and zero point); windows
    /// over the padding take the maximum of their real positions only, as Keras's `same` does.
    public static func maxPool(_ x: [Int8], _ g: Window) -> [Int8] {
        var y = [Int8](repeating: 0, count: g.outHeight * g.outWidth * g.outChannels)
        for oy in 0..<g.outHeight {
            for ox in 0..<g.outWidth {
                for c in 0..<g.outChannels {
                    var m = Int8.min
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
                            if ix < 0 || ix >= g.inWidth { continue }
                            m = Swift.max(m, x[(iy * g.inWidth + ix) * g.inChannels + c])
                        }
                    }
                    y[(oy * g.outWidth + ox) * g.outChannels + c] = m
                }
            }
        }
        return y
    }

    /// Global average pooling onto a new grid: y[c] = clamp(M·Σ_p (x[p, c] − zpIn) + zpOut), M = sIn / (sOut · pixels).
    public static func globalAveragePool(_ x: [Int8], pixels: Int, channels: Int, multiplier: FixedPoint.Multiplier,
                                         inputZeroPoint: Int32, outputZeroPoint: Int32) -> [Int8] {
        (0..<channels).map { c in
            var acc: Int32 = 0
            for p in 0..<pixels { acc += Int32(x[p * channels + c]) - inputZeroPoint }
            return Int8(Swift.min(Swift.max(FixedPoint.multiply(acc, by: multiplier) + outputZeroPoint, -128), 127))
        }
    }

    /// The left shift TFLite's int8 Add applies to both inputs before rescaling them.
    public static let addLeftShift: Int32 = 20

    /// Elementwise sum of two int8 tensors on their own grids, TFLite's int8 `Add`: each input
    /// (x − zp) · 2^20 brought to the common scale 2·max(sA, sB) by its multiplier, the sum
    /// requantized onto the output grid and clamped.
    public static func add(_ a: [Int8], _ b: [Int8], aZeroPoint: Int32, bZeroPoint: Int32, outputZeroPoint: Int32,
                           aMultiplier: FixedPoint.Multiplier, bMultiplier: FixedPoint.Multiplier, outputMultiplier: FixedPoint.Multiplier,
                           activationMinimum: Int32, activationMaximum: Int32) -> [Int8] {
        precondition(a.count == b.count, "add: sizes disagree")
        return (0..<a.count).map { i in
            let sa = FixedPoint.multiply((Int32(a[i]) - aZeroPoint) << addLeftShift, by: aMultiplier)
            let sb = FixedPoint.multiply((Int32(b[i]) - bZeroPoint) << addLeftShift, by: bMultiplier)
            let v = FixedPoint.multiply(sa + sb, by: outputMultiplier) + outputZeroPoint
            return Int8(Swift.min(Swift.max(v, activationMinimum), activationMaximum))
        }
    }

    /// ReLU / ReLU6 on a tensor's own grid: a clamp to [minimum, maximum].
    public static func clamp(_ x: [Int8], minimum: Int32, maximum: Int32) -> [Int8] {
        x.map { Int8(Swift.min(Swift.max(Int32($0), minimum), maximum)) }
    }
}
