import NanoTensor

/// Learned step size quantization (LSQ, Esser et al., "Learned Step Size Quantization", ICLR 2020):
/// the fake quantization of a weight [out, in] with one scale per slice of `scheme` (as `RTN`
/// lays them out), and its gradients with respect to the weight and the scales. The forward value
/// is `fakeQuantize` of this file set, element by element, so what LSQ trains is exactly what
/// `quantize` packs.
///
/// Gradients (v = x / s, q = clamp(round(v) + z, qmin, qmax), x̂ = (q - z) · s):
/// - ∂x̂/∂x = 1 inside the grid (qmin ≤ v + z ≤ qmax, before rounding), 0 outside it
///   (straight-through rounding);
/// - ∂x̂/∂s = round(v) - v inside the grid, and the clip bound qmin - z or qmax - z outside it,
///   scaled by g = 1 / √(N · Qp) with N the weights sharing the scale and Qp = qmax - z the
///   positive bound, so that scale and weight updates have comparable magnitudes (LSQ §2.2).
extension QuantizationNumerics {
    /// The LSQ gradient scale for `count` weights sharing one scale on a grid whose largest
    /// positive level is `positiveLevels` (qmax - zero point).
    public static func lsqGradientScale(count: Int, positiveLevels: Int32) -> Float {
        1 / (Float(count) * Float(Swift.max(positiveLevels, 1))).squareRoot()
    }

    /// The scales LSQ uses: kept positive (a step taken past zero would make the grid degenerate).
    @inline(__always)
    public static func lsqScale(_ s: Float) -> Float { Swift.max(s, Float.leastNormalMagnitude) }

    /// Fake-quantizes `weight` [out, in] with per-slice `scales` (and integer `zeroPoints` for
    /// asymmetric schemes).
    public static func lsqFakeQuantize(_ weight: Tensor, scales: Tensor, zeroPoints: [Int32]?, scheme: QuantizationScheme) -> Tensor {
        var out = weight
        lsqWalk(weight, scales: scales, zeroPoints: zeroPoints, scheme: scheme) { i, _, p, lo, hi in
            out.scalars[i] = fakeQuantize(weight.scalars[i], p, qmin: lo, qmax: hi)
        }
        return out
    }

    /// The gradients of a loss with respect to `weight` and `scales` given its gradient
    /// `outputGrad` with respect to the fake-quantized weight; the scale gradient includes LSQ's
    /// gradient scale g.
    public static func lsqGradients(_ weight: Tensor, scales: Tensor, zeroPoints: [Int32]?, scheme: QuantizationScheme,
                                    outputGrad: Tensor) -> (weight: Tensor, scales: Tensor) {
        precondition(outputGrad.shape == weight.shape, "LSQ: gradient \(outputGrad.shape) for weight \(weight.shape)")
        var gw = Tensor.zeros(weight.shape), gs = Tensor.zeros(scales.shape)
        let columns = weight.shape[1], perScale = scheme.groupWidth(columns: columns) * (scheme.granularity == .tensor ? weight.shape[0] : 1)
        lsqWalk(weight, scales: scales, zeroPoints: zeroPoints, scheme: scheme) { i, slice, p, lo, hi in
            let g = outputGrad.scalars[i], v = weight.scalars[i] / p.scale
            // Clipped where v + z leaves the grid (the paper's −Qn < v < Qp), before rounding.
            let code = v + Float(p.zeroPoint)
            let local: Float
            if code < Float(lo) {
                local = Float(lo - p.zeroPoint)
            } else if code > Float(hi) {
                local = Float(hi - p.zeroPoint)
            } else {
                local = v.rounded(.toNearestOrEven) - v
                gw.scalars[i] = g
            }
            let scale = lsqGradientScale(count: perScale, positiveLevels: hi - p.zeroPoint)
            gs.scalars[slice] += g * local * scale
        }
        return (gw, gs)
    }

    /// Calls `body(element, slice, parameters, qmin, qmax)` for every element of `weight`.
    static func lsqWalk(_ weight: Tensor, scales: Tensor, zeroPoints: [Int32]?, scheme: QuantizationScheme,
                        _ body: (Int, Int, QuantizationParameters, Int32, Int32) -> Void) {
        let (rows, columns) = (weight.shape[0], weight.shape[1])
        precondition(scales.count == scheme.scaleCount(rows: rows, columns: columns), "LSQ: \(scales.count) scales for \(weight.shape) \(scheme)")
        let lo = qmin(bits: scheme.bits, symmetric: scheme.symmetric), hi = qmax(bits: scheme.bits, symmetric: scheme.symmetric)
        for r in 0..<rows {
            for c in 0..<columns {
                let slice = scheme.scaleIndex(row: r, column: c, columns: columns)
                let p = QuantizationParameters(scale: lsqScale(scales.scalars[slice]), zeroPoint: zeroPoints?[slice] ?? 0)
                body(r * columns + c, slice, p, lo, hi)
            }
        }
    }
}

extension QuantizationNumerics {
    /// LSQ on an activation tensor of int8 codes −128…127 on one learned `scale` with a fixed
    /// integer `zeroPoint` (the full-integer model's asymmetric activations): the gradients of a
    /// loss with respect to `x` and to the scale given its gradient `outputGrad` with respect to
    /// the fake-quantized tensor, with the formulas of `lsqGradients` above. N in the gradient
    /// scale 1 / √(N · Qp) is `featuresPerExample`, the tensor's size for one example (LSQ's N_F,
    /// "the number of features in the layer"): the loss is a mean over the batch, so the batch
    /// already divides the summed gradient. Qp = 127 − zero point (255 for a ReLU output, whose
    /// zero point is −128: LSQ's unsigned 2^b − 1).
    public static func lsqActivationGradients(_ x: Tensor, scale: Float, zeroPoint: Int32, outputGrad: Tensor,
                                              featuresPerExample: Int) -> (input: Tensor, scale: Float) {
        precondition(outputGrad.shape == x.shape, "LSQ: gradient \(outputGrad.shape) for activation \(x.shape)")
        let s = lsqScale(scale), z = Float(zeroPoint), lo: Int32 = -128, hi: Int32 = 127
        var gx = Tensor.zeros(x.shape)
        var gs: Double = 0
        for i in x.scalars.indices {
            let g = outputGrad.scalars[i], v = x.scalars[i] / s
            let code = v + z
            let local: Float
            if code < Float(lo) {
                local = Float(lo - zeroPoint)
            } else if code > Float(hi) {
                local = Float(hi - zeroPoint)
            } else {
                local = v.rounded(.toNearestOrEven) - v
                gx.scalars[i] = g
            }
            gs += Double(g * local)
        }
        return (gx, Float(gs) * lsqGradientScale(count: featuresPerExample, positiveLevels: hi - zeroPoint))
    }
}
