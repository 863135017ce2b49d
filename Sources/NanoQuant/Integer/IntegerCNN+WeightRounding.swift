import NanoTensor

extension IntegerCNN {
    /// Chooses a convolution's int8 codes when the integer model is built: given the layer's
    /// float weights (BatchNorm folded) and its calibration inputs, returns an int8 symmetric
    /// per-output-channel `QuantizedTensor` of the weights' shape (codes in [−127, 127], the scales
    /// the integer model then stores). nil in `IntegerCNN.init(calibrating:…)` is round to nearest
    /// (`RTN`); NanoForge's GPTQ is the other one (`GPTQ.convolutionRounding`).
    public typealias WeightRounding = (WeightRoundingProblem) throws -> QuantizedTensor

    /// One convolution to round, with what an error-compensating rounding needs: its inputs on
    /// the calibration images as the integer model built so far computes them (the int8 tensor,
    /// dequantized), so each layer's codes compensate for the rounding of the layers before it.
    public struct WeightRoundingProblem {
        /// The integer layer: the Keras layer's name, `<separable>/depthwise` for a separable's
        /// first half.
        public let layer: String
        /// [out, inner]: [out][kh][kw][in] for a dense convolution (a pointwise kernel, a Dense
        /// layer: kh = kw = 1), [in·M][kh][kw] for a depthwise one.
        public let weights: Tensor
        /// 0 for a dense convolution; M ≥ 1 for a depthwise one (output o reads input channel o / M).
        public let depthMultiplier: Int
        public let window: IntegerKernels.Window
        /// The layer's input [h, w, c] (NHWC values) on each calibration image.
        public let inputs: [[Float]]

        /// Rows of `patches` per image: output pixels.
        public var pixels: Int { window.outHeight * window.outWidth }

        /// The im2col of one input image: [pixels, kh·kw·in], column (ky, kx, c) in the weights'
        /// order, 0 where the window reads padding (the integer kernel adds nothing there). For a
        /// depthwise layer with `channel`, only that input channel's taps: [pixels, kh·kw].
        /// Plain loops: this is the reference and the only path (it runs once per layer and image).
        public func patches(_ image: [Float], channel: Int? = nil) -> Tensor {
            let g = window
            precondition(image.count == g.inHeight * g.inWidth * g.inChannels, "patches: the image has \(image.count) values")
            let channels = channel.map { $0..<($0 + 1) } ?? 0..<g.inChannels
            let width = g.kernelHeight * g.kernelWidth * channels.count
            var out = [Float](repeating: 0, count: pixels * width)
            for oy in 0..<g.outHeight {
                for ox in 0..<g.outWidth {
                    let row = (oy * g.outWidth + ox) * width
                    for ky in 0..<g.kernelHeight {
                        let iy = oy * g.strideHeight + ky * g.dilationHeight - g.padTop
                        if iy < 0 || iy >= g.inHeight { continue }
                        for kx in 0..<g.kernelWidth {
                            let ix = ox * g.strideWidth + kx * g.dilationWidth - g.padLeft
                            if ix < 0 || ix >= g.inWidth { continue }
                            let pixel = (iy * g.inWidth + ix) * g.inChannels, tap = (ky * g.kernelWidth + kx) * channels.count
                            for (k, c) in channels.enumerated() { out[row + tap + k] = image[pixel + c] }
                        }
                    }
                }
            }
            return Tensor(shape: [pixels, width], scalars: out)
        }
    }
}
