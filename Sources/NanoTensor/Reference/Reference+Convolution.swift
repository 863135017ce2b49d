/// Plain-loop references for the convolutions and pooling (NHWC, Keras kernel layouts), written
/// straight from the definitions with Double sums; padding positions are found by bounds checks on
/// each tap, independently of the fast kernels' window walks.
extension Reference {
    /// The input position of output `o` and tap `k` along one axis, nil in padding.
    static func windowSource(_ o: Int, _ k: Int, input: Int, axis: Conv2DGeometry.Axis) -> Int? {
        let i = o * axis.stride + k * axis.dilation - axis.padBefore
        return i >= 0 && i < input ? i : nil
    }

    /// x [N, H, W, C] ⊛ kernel [kh, kw, C, O] (+ bias [O]) → [N, outH, outW, O].
    public static func conv2d(_ x: Tensor, kernel: Tensor, bias: Tensor? = nil, geometry g: Conv2DGeometry) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw, o) = (kernel.shape[0], kernel.shape[1], kernel.shape[3])
        precondition(kernel.shape[2] == c, "Reference.conv2d: kernel \(kernel.shape) for input \(x.shape)")
        let rows = g.rows(h), cols = g.columns(w)
        var out = Tensor.zeros([n, rows.output, cols.output, o])
        for b in 0..<n { for oh in 0..<rows.output { for ow in 0..<cols.output { for oc in 0..<o {
            var acc = Double(bias?.scalars[oc] ?? 0)
            for i in 0..<kh {
                guard let ih = windowSource(oh, i, input: h, axis: rows) else { continue }
                for j in 0..<kw {
                    guard let iw = windowSource(ow, j, input: w, axis: cols) else { continue }
                    for ic in 0..<c { acc += Double(x[b, ih, iw, ic]) * Double(kernel[i, j, ic, oc]) }
                }
            }
            out[b, oh, ow, oc] = Float(acc)
        } } } }
        return out
    }

    /// Depthwise: channel c with its own M filters, kernel [kh, kw, C, M] → output channel c·M + m.
    public static func depthwiseConv2d(_ x: Tensor, kernel: Tensor, bias: Tensor? = nil, geometry g: Conv2DGeometry) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (kh, kw, m) = (kernel.shape[0], kernel.shape[1], kernel.shape[3])
        precondition(kernel.shape[2] == c, "Reference.depthwiseConv2d: kernel \(kernel.shape) for input \(x.shape)")
        let rows = g.rows(h), cols = g.columns(w)
        var out = Tensor.zeros([n, rows.output, cols.output, c * m])
        for b in 0..<n { for oh in 0..<rows.output { for ow in 0..<cols.output { for ic in 0..<c { for q in 0..<m {
            var acc = Double(bias?.scalars[ic * m + q] ?? 0)
            for i in 0..<kh {
                guard let ih = windowSource(oh, i, input: h, axis: rows) else { continue }
                for j in 0..<kw {
                    guard let iw = windowSource(ow, j, input: w, axis: cols) else { continue }
                    acc += Double(x[b, ih, iw, ic]) * Double(kernel[i, j, ic, q])
                }
            }
            out[b, oh, ow, ic * m + q] = Float(acc)
        } } } } }
        return out
    }

    /// Max (or, with `average`, mean) over each window's real inputs.
    public static func pool2d(_ x: Tensor, geometry g: Conv2DGeometry, average: Bool) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let rows = g.rows(h), cols = g.columns(w)
        var out = Tensor.zeros([n, rows.output, cols.output, c])
        for b in 0..<n { for oh in 0..<rows.output { for ow in 0..<cols.output { for ch in 0..<c {
            var values: [Double] = []
            for i in 0..<g.kernelHeight {
                guard let ih = windowSource(oh, i, input: h, axis: rows) else { continue }
                for j in 0..<g.kernelWidth {
                    guard let iw = windowSource(ow, j, input: w, axis: cols) else { continue }
                    values.append(Double(x[b, ih, iw, ch]))
                }
            }
            let v = average ? values.reduce(0, +) / Double(Swift.max(values.count, 1)) : (values.max() ?? 0)
            out[b, oh, ow, ch] = Float(v)
        } } } }
        return out
    }

    /// Mean over height and width: [N, H, W, C] → [N, C].
    public static func globalAvgPool2d(_ x: Tensor) -> Tensor {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = Tensor.zeros([n, c])
        for b in 0..<n { for ch in 0..<c {
            var acc = 0.0
            for i in 0..<h { for j in 0..<w { acc += Double(x[b, i, j, ch]) } }
            out[b, ch] = Float(acc / Double(Swift.max(h * w, 1)))
        } }
        return out
    }
}
