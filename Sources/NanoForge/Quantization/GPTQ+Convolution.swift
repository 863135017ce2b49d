import NanoQuant
import NanoTensor

extension GPTQ {
    /// GPTQ for the convolutions of a full-integer CNN (`IntegerCNN`), as its `WeightRounding`:
    /// codes on exactly the int8 symmetric per-output-channel grid the integer model stores.
    ///
    /// - A dense convolution (Conv2D, a separable's pointwise half, a Dense layer as 1×1) is the
    ///   matrix [out, kh·kw·in]; its Hessian is 2·XᵀX/n of the im2col X of its inputs, every output
    ///   pixel of every calibration image a row.
    /// - A depthwise convolution is one small problem per input channel c: the weights [M, kh·kw]
    ///   of its M outputs, the Hessian of channel c's patches only (the other channels never meet
    ///   these weights).
    /// The inputs are the integer model's own (`WeightRoundingProblem.inputs`: each layer's int8
    /// input as the layers before it, already rounded, compute it, dequantized), so every layer
    /// compensates what came before, as GPTQ does layer after layer. The column loop, damping and
    /// per-channel scales are `GPTQ.quantize`'s (per-channel scales from the weight with dead
    /// inputs zeroed).
    /// GPTQ minimizes the *damped* objective; on a short row (a 3×3 kernel over one channel: 9
    /// columns) that can leave a channel's error on the calibration inputs a hair above RTN's
    /// (seen: +0.06 % on a first layer). Each output channel therefore keeps GPTQ's codes or
    /// RTN's (the integer model's default, its own scale), whichever has the lower error dᵀ·H·d
    /// on those inputs (H undamped): the layer never ends worse than RTN there.
    public static func convolutionRounding(dampingFraction: Double = 0.01, blockSize: Int = 128,
                                           activationOrder: Bool = false) -> IntegerCNN.WeightRounding {
        { problem in
            let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
            let configuration = Configuration(scheme: scheme, dampingFraction: dampingFraction, blockSize: blockSize,
                                              activationOrder: activationOrder)
            let w = problem.weights, (rows, columns) = (w.shape[0], w.shape[1])
            guard problem.depthMultiplier > 0 else {
                var h = HessianAccumulator(columns: columns)
                for image in problem.inputs { try h.add(problem.patches(image)) }
                return try lowerErrorRows(w, try quantize(w, hessian: h, configuration: configuration), hessian: h.hessian())
            }
            let m = problem.depthMultiplier, channels = rows / m
            var codes: [Int32] = [], parameters: [QuantizationParameters] = []
            for c in 0..<channels {
                var h = HessianAccumulator(columns: columns)
                for image in problem.inputs { try h.add(problem.patches(image, channel: c)) }
                let slice = Tensor(shape: [m, columns], scalars: Array(w.scalars[(c * m * columns)..<((c + 1) * m * columns)]))
                let q = try lowerErrorRows(slice, try quantize(slice, hessian: h, configuration: configuration), hessian: h.hessian())
                codes += q.codes()
                parameters += (0..<m).map { q.parameters(at: $0) }
            }
            return try QuantizedTensor(shape: w.shape, scheme: scheme, codes: codes, parameters: parameters, scaleFormat: .float32)
        }
    }

    /// Per row of `w`, the codes of `gptq` or of RTN (symmetric int8 per channel), whichever has
    /// the lower dᵀ·H·d, d = w − ŵ: the row's squared output error over the calibration inputs.
    static func lowerErrorRows(_ w: Tensor, _ gptq: QuantizedTensor, hessian h: [Double]) throws -> QuantizedTensor {
        let rtn = try RTN.quantize(w, scheme: gptq.scheme)
        let (rows, columns) = (w.shape[0], w.shape[1])
        let (g, r) = (gptq.codes(), rtn.codes())
        func error(_ codes: [Int32], _ scale: Float, row: Int) -> Double {
            let d = (0..<columns).map { Double(w.scalars[row * columns + $0]) - Double(codes[row * columns + $0]) * Double(scale) }
            var e = 0.0
            for i in 0..<columns where d[i] != 0 {
                var s = 0.0
                for j in 0..<columns { s += h[i * columns + j] * d[j] }
                e += d[i] * s
            }
            return e
        }
        var codes = g, parameters = (0..<rows).map { gptq.parameters(at: $0) }
        for row in 0..<rows where error(r, rtn.scales[row], row: row) < error(g, gptq.scales[row], row: row) {
            for i in 0..<columns { codes[row * columns + i] = r[row * columns + i] }
            parameters[row] = rtn.parameters(at: row)
        }
        return try QuantizedTensor(shape: w.shape, scheme: gptq.scheme, codes: codes, parameters: parameters, scaleFormat: .float32)
    }
}
