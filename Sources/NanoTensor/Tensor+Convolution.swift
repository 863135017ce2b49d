import Foundation

/// 2-D convolution over NHWC activations with Keras / TensorFlow's kernel layout [kh, kw, in, out],
/// as im2col + sgemm: each image's windows are gathered into a matrix
/// `cols` [outH·outW, kh·kw·in] whose columns run (kh, kw, in) — the order of the kernel's rows
/// when it is viewed as [kh·kw·in, out] — so one GEMM `cols · kernel` gives the NHWC output.
/// The backward is the two adjoint GEMMs and a col2im scatter-add. One image at a time, so the
/// gathered matrix stays at one image's size. `Reference.conv2d` is the plain-loop reference.
extension Tensor {
    /// x: [N, H, W, C], kernel: [kh, kw, C, O], bias: [O] → [N, outH, outW, O].
    public static func conv2d(_ x: Tensor, kernel: Tensor, bias: Tensor? = nil, geometry g: Conv2DGeometry) -> Tensor {
        let d = ConvDimensions(x.shape, kernel.shape, g)
        if let bias { precondition(bias.shape == [d.outChannels], "conv2d: bias \(bias.shape) does not match kernel \(kernel.shape)") }
        var out = [Float](repeating: 0, count: d.batch * d.outPixels * d.outChannels)
        guard !out.isEmpty else { return Tensor(shape: d.outputShape, scalars: out) }
        var cols = [Float](repeating: 0, count: d.direct ? 0 : d.outPixels * d.patch)
        x.scalars.withUnsafeBufferPointer { px in
            kernel.scalars.withUnsafeBufferPointer { pk in
                out.withUnsafeMutableBufferPointer { po in
                    cols.withUnsafeMutableBufferPointer { pc in
                        for n in 0..<d.batch {
                            let image = px.baseAddress! + n * d.inPixels * d.inChannels
                            let o = po.baseAddress! + n * d.outPixels * d.outChannels
                            if let bias {
                                bias.scalars.withUnsafeBufferPointer { pb in
                                    for p in 0..<d.outPixels { (o + p * d.outChannels).update(from: pb.baseAddress!, count: d.outChannels) }
                                }
                            }
                            guard d.patch > 0 else { continue }
                            let a: UnsafePointer<Float>
                            if d.direct { a = image } else {
                                im2col(image, into: pc.baseAddress!, d)
                                a = UnsafePointer(pc.baseAddress!)
                            }
                            parallelSGEMM(a, false, pk.baseAddress!, false, o, m: d.outPixels, n: d.outChannels, k: d.patch,
                                          lda: d.patch, ldb: d.outChannels, beta: bias == nil ? 0 : 1)
                        }
                    }
                }
            }
        }
        return Tensor(shape: d.outputShape, scalars: out)
    }

    /// The gradients of `conv2d` for output gradient `grad` [N, outH, outW, O]: dx [N, H, W, C]
    /// (when `needsInput`) and dkernel [kh, kw, C, O] (when `needsKernel`). The bias gradient is
    /// `grad` summed over N, outH, outW.
    public static func conv2dBackward(_ x: Tensor, kernel: Tensor, grad: Tensor, geometry g: Conv2DGeometry,
                                      needsInput: Bool = true, needsKernel: Bool = true) -> (input: Tensor?, kernel: Tensor?) {
        let d = ConvDimensions(x.shape, kernel.shape, g)
        precondition(grad.shape == d.outputShape, "conv2dBackward: gradient \(grad.shape) where the output is \(d.outputShape)")
        var dx = [Float](repeating: 0, count: needsInput ? x.count : 0)
        var dk = [Float](repeating: 0, count: needsKernel ? kernel.count : 0)
        var cols = [Float](repeating: 0, count: d.direct ? 0 : d.outPixels * d.patch)
        if d.batch * d.outPixels * d.outChannels * d.patch > 0 {
            x.scalars.withUnsafeBufferPointer { px in
                kernel.scalars.withUnsafeBufferPointer { pk in
                    grad.scalars.withUnsafeBufferPointer { pg in
                        dx.withUnsafeMutableBufferPointer { pdx in
                            dk.withUnsafeMutableBufferPointer { pdk in
                                cols.withUnsafeMutableBufferPointer { pc in
                                    for n in 0..<d.batch {
                                        let gn = pg.baseAddress! + n * d.outPixels * d.outChannels
                                        if needsKernel {
                                            // dK += colsᵀ · G  ([patch, out])
                                            let image = px.baseAddress! + n * d.inPixels * d.inChannels
                                            let a: UnsafePointer<Float>
                                            if d.direct { a = image } else {
                                                im2col(image, into: pc.baseAddress!, d)
                                                a = UnsafePointer(pc.baseAddress!)
                                            }
                                            parallelSGEMM(a, true, gn, false, pdk.baseAddress!, m: d.patch, n: d.outChannels, k: d.outPixels,
                                                          lda: d.patch, ldb: d.outChannels, beta: n == 0 ? 0 : 1)
                                        }
                                        if needsInput {
                                            // dcols = G · Kᵀ  ([outPixels, patch]), scattered back onto dx.
                                            let dImage = pdx.baseAddress! + n * d.inPixels * d.inChannels
                                            if d.direct {
                                                parallelSGEMM(gn, false, pk.baseAddress!, true, dImage, m: d.outPixels, n: d.patch,
                                                              k: d.outChannels, lda: d.outChannels, ldb: d.outChannels)
                                            } else {
                                                parallelSGEMM(gn, false, pk.baseAddress!, true, pc.baseAddress!, m: d.outPixels, n: d.patch,
                                                              k: d.outChannels, lda: d.outChannels, ldb: d.outChannels)
                                                col2im(UnsafePointer(pc.baseAddress!), into: dImage, d)
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

    /// Gathers one image's windows: cols[p, (i·kw + j)·C + c] = x[source row, source column, c], 0 in padding.
    static func im2col(_ image: UnsafePointer<Float>, into cols: UnsafeMutablePointer<Float>, _ d: ConvDimensions) {
        let c = d.inChannels
        Parallel.forRanges(d.rows.output, grain: Swift.max(1, (1 << 15) / Swift.max(1, d.columns.output * d.patch))) { range in
            for oh in range {
                for ow in 0..<d.columns.output {
                    var dst = cols + (oh * d.columns.output + ow) * d.patch
                    for i in 0..<d.rows.kernel {
                        let ih = d.rows.source(oh, i)
                        for j in 0..<d.columns.kernel {
                            let iw = d.columns.source(ow, j)
                            if ih >= 0 && ih < d.rows.input && iw >= 0 && iw < d.columns.input {
                                dst.update(from: image + (ih * d.columns.input + iw) * c, count: c)
                            } else {
                                dst.update(repeating: 0, count: c)
                            }
                            dst += c
                        }
                    }
                }
            }
        }
    }

    /// The adjoint of `im2col`: adds each window element back onto the position it was read from.
    /// Serial, because windows overlap.
    static func col2im(_ cols: UnsafePointer<Float>, into image: UnsafeMutablePointer<Float>, _ d: ConvDimensions) {
        let c = d.inChannels
        for oh in 0..<d.rows.output {
            for ow in 0..<d.columns.output {
                var src = cols + (oh * d.columns.output + ow) * d.patch
                for i in 0..<d.rows.kernel {
                    let ih = d.rows.source(oh, i)
                    for j in 0..<d.columns.kernel {
                        let iw = d.columns.source(ow, j)
                        if ih >= 0 && ih < d.rows.input && iw >= 0 && iw < d.columns.input {
                            let dst = image + (ih * d.columns.input + iw) * c
                            for k in 0..<c { dst[k] += src[k] }
                        }
                        src += c
                    }
                }
            }
        }
    }
}

/// The extents of one conv2d call, checked once.
struct ConvDimensions {
    let batch: Int, inChannels: Int, outChannels: Int
    let rows: Conv2DGeometry.Axis, columns: Conv2DGeometry.Axis
    /// kh·kw·C: the length of one gathered window.
    let patch: Int
    /// A 1×1 window at stride 1 with no padding reads x itself as `cols` (no im2col copy).
    let direct: Bool

    init(_ x: [Int], _ kernel: [Int], _ g: Conv2DGeometry) {
        precondition(x.count == 4, "conv2d: input \(x) should be [N, H, W, C]")
        precondition(kernel.count == 4 && kernel[0] == g.kernelHeight && kernel[1] == g.kernelWidth && kernel[2] == x[3],
                     "conv2d: kernel \(kernel) should be [\(g.kernelHeight), \(g.kernelWidth), \(x[3]), out] for input \(x)")
        batch = x[0]; inChannels = x[3]; outChannels = kernel[3]
        rows = g.rows(x[1]); columns = g.columns(x[2])
        patch = kernel[0] * kernel[1] * kernel[2]
        direct = kernel[0] == 1 && kernel[1] == 1 && g.strideHeight == 1 && g.strideWidth == 1
            && rows.padBefore == 0 && columns.padBefore == 0 && rows.output == rows.input && columns.output == columns.input
    }

    var inPixels: Int { rows.input * columns.input }
    var outPixels: Int { rows.output * columns.output }
    var outputShape: [Int] { [batch, rows.output, columns.output, outChannels] }
}
