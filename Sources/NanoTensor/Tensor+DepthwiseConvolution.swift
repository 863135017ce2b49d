import Foundation

/// Depthwise 2-D convolution over NHWC activations, Keras's `DepthwiseConv2D` (and the first half
/// of `SeparableConv2D`): each input channel c is convolved with its own `depthMultiplier` filters,
/// kernel [kh, kw, C, M], giving output channel c·M + m.
///
/// A GEMM does not fit (one tiny product per channel), so the fast path is a direct kernel whose
/// innermost loop runs over the contiguous channels of one pixel (C·M multiply-adds per tap, which
/// the compiler vectorises); output rows are split across cores. `Reference.depthwiseConv2d` is the
/// plain-loop reference.
extension Tensor {
    /// x: [N, H, W, C], kernel: [kh, kw, C, M], bias: [C·M] → [N, outH, outW, C·M].
    public static func depthwiseConv2d(_ x: Tensor, kernel: Tensor, bias: Tensor? = nil, geometry g: Conv2DGeometry) -> Tensor {
        let d = DepthwiseDimensions(x.shape, kernel.shape, g)
        if let bias { precondition(bias.shape == [d.outChannels], "depthwiseConv2d: bias \(bias.shape) does not match kernel \(kernel.shape)") }
        var out = [Float](repeating: 0, count: d.batch * d.outPixels * d.outChannels)
        guard !out.isEmpty else { return Tensor(shape: d.outputShape, scalars: out) }
        let (c, m, oc) = (d.inChannels, d.multiplier, d.outChannels)
        let rowsTotal = d.batch * d.rows.output
        x.scalars.withUnsafeBufferPointer { px in
            kernel.scalars.withUnsafeBufferPointer { pk in
                out.withUnsafeMutableBufferPointer { po in
                    let (x0, k0, o0) = (px.baseAddress!, pk.baseAddress!, po.baseAddress!)
                    let grain = Swift.max(1, (1 << 14) / Swift.max(1, d.columns.output * oc * d.rows.kernel * d.columns.kernel))
                    Parallel.forRanges(rowsTotal, grain: grain) { range in
                        for row in range {
                            let (n, oh) = row.quotientAndRemainder(dividingBy: d.rows.output)
                            let image = x0 + n * d.inPixels * c
                            for ow in 0..<d.columns.output {
                                let o = o0 + ((n * d.rows.output + oh) * d.columns.output + ow) * oc
                                if let bias { bias.scalars.withUnsafeBufferPointer { o.update(from: $0.baseAddress!, count: oc) } }
                                for i in 0..<d.rows.kernel {
                                    let ih = d.rows.source(oh, i)
                                    guard ih >= 0 && ih < d.rows.input else { continue }
                                    for j in 0..<d.columns.kernel {
                                        let iw = d.columns.source(ow, j)
                                        guard iw >= 0 && iw < d.columns.input else { continue }
                                        let xi = image + (ih * d.columns.input + iw) * c
                                        let ki = k0 + (i * d.columns.kernel + j) * oc
                                        if m == 1 {
                                            for ch in 0..<c { o[ch] += xi[ch] * ki[ch] }
                                        } else {
                                            for ch in 0..<c {
                                                let v = xi[ch]
                                                for q in 0..<m { o[ch * m + q] += v * ki[ch * m + q] }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return Tensor(shape: d.outputShape, scalars: out)
    }

    /// The gradients of `depthwiseConv2d` for output gradient `grad`: dx [N, H, W, C] and dkernel
    /// [kh, kw, C, M]; the bias gradient is `grad` summed over N, outH, outW.
    public static func depthwiseConv2dBackward(_ x: Tensor, kernel: Tensor, grad: Tensor, geometry g: Conv2DGeometry,
                                               needsInput: Bool = true, needsKernel: Bool = true) -> (input: Tensor?, kernel: Tensor?) {
        let d = DepthwiseDimensions(x.shape, kernel.shape, g)
        precondition(grad.shape == d.outputShape, "depthwiseConv2dBackward: gradient \(grad.shape) where the output is \(d.outputShape)")
        var dx = [Float](repeating: 0, count: needsInput ? x.count : 0)
        var dk = [Float](repeating: 0, count: needsKernel ? kernel.count : 0)
        let (c, m, oc) = (d.inChannels, d.multiplier, d.outChannels)
        if d.batch * d.outPixels * oc > 0 {
            x.scalars.withUnsafeBufferPointer { px in
                kernel.scalars.withUnsafeBufferPointer { pk in
                    grad.scalars.withUnsafeBufferPointer { pg in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            dk.withUnsafeMutableBufferPointer { pdk in
                                for n in 0..<d.batch {
                                    for oh in 0..<d.rows.output {
                                        for ow in 0..<d.columns.output {
                                            let gi = pg.baseAddress! + ((n * d.rows.output + oh) * d.columns.output + ow) * oc
                                            for i in 0..<d.rows.kernel {
                                                let ih = d.rows.source(oh, i)
                                                guard ih >= 0 && ih < d.rows.input else { continue }
                                                for j in 0..<d.columns.kernel {
                                                    let iw = d.columns.source(ow, j)
                                                    guard iw >= 0 && iw < d.columns.input else { continue }
                                                    let offset = (n * d.inPixels + ih * d.columns.input + iw) * c
                                                    let tap = (i * d.columns.kernel + j) * oc
                                                    for ch in 0..<c {
                                                        for q in 0..<m {
                                                            let gv = gi[ch * m + q]
                                                            if needsInput { pdx[offset + ch] += gv * pk[tap + ch * m + q] }
                                                            if needsKernel { pdk[tap + ch * m + q] += gv * px[offset + ch] }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        return (needsInput ? Tensor(shape: x.shape, scalars: dx) : nil,
                needsKernel ? Tensor(shape: kernel.shape, scalars: dk) : nil)
    }
}

/// The extents of one depthwise conv2d call, checked once.
struct DepthwiseDimensions {
    let batch: Int, inChannels: Int, multiplier: Int
    let rows: Conv2DGeometry.Axis, columns: Conv2DGeometry.Axis

    init(_ x: [Int], _ kernel: [Int], _ g: Conv2DGeometry) {
        precondition(x.count == 4, "depthwiseConv2d: input \(x) should be [N, H, W, C]")
        precondition(kernel.count == 4 && kernel[0] == g.kernelHeight && kernel[1] == g.kernelWidth && kernel[2] == x[3],
                     "depthwiseConv2d: kernel \(kernel) should be [\(g.kernelHeight), \(g.kernelWidth), \(x[3]), multiplier] for input \(x)")
        batch = x[0]; inChannels = x[3]; multiplier = kernel[3]
        rows = g.rows(x[1]); columns = g.columns(x[2])
    }

    var outChannels: Int { inChannels * multiplier }
    var inPixels: Int { rows.input * columns.input }
    var outPixels: Int { rows.output * columns.output }
    var outputShape: [Int] { [batch, rows.output, columns.output, outChannels] }
}
