import Foundation

/// 2-D pooling over NHWC activations, with TensorFlow's treatment of `same` padding: padded
/// positions take no part — a max ignores them, an average divides by the number of real inputs
/// in the window (TF's `AvgPool`; not PyTorch's `count_include_pad`). The inner loops run over the
/// contiguous channels of a pixel. `Reference.maxPool2d` / `avgPool2d` are the plain-loop references.
extension Tensor {
    /// Max over each window: x [N, H, W, C] → [N, outH, outW, C], with the flat input position of
    /// each maximum (the first one on ties) for the backward.
    public func maxPool2dWithIndices(_ g: Conv2DGeometry) -> (values: Tensor, indices: [Int32]) {
        let d = PoolDimensions(shape, g)
        var out = [Float](repeating: -.infinity, count: d.outputCount)
        var argmax = [Int32](repeating: -1, count: d.outputCount)
        precondition(count < Int(Int32.max), "maxPool2d: input of \(count) elements is too large for 32-bit indices")
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                argmax.withUnsafeMutableBufferPointer { pi in
                    d.forEachWindow { outOffset, inOffsets in
                        for inOffset in inOffsets {
                            for ch in 0..<d.channels {
                                let v = px[inOffset + ch]
                                // `>` keeps the first maximum on ties.
                                if pi[outOffset + ch] < 0 || v > po[outOffset + ch] {
                                    po[outOffset + ch] = v
                                    pi[outOffset + ch] = Int32(inOffset + ch)
                                }
                            }
                        }
                    }
                }
            }
        }
        return (Tensor(shape: d.outputShape, scalars: out), argmax)
    }

    /// Max pooling (see `maxPool2dWithIndices`).
    public func maxPool2d(_ g: Conv2DGeometry) -> Tensor { maxPool2dWithIndices(g).values }

    /// The gradient of max pooling: each output gradient goes to its window's maximum.
    public static func maxPool2dBackward(grad: Tensor, indices: [Int32], inputShape: [Int]) -> Tensor {
        precondition(grad.count == indices.count, "maxPool2dBackward: \(grad.count) gradients for \(indices.count) indices")
        var dx = [Float](repeating: 0, count: inputShape.elementCount)
        for (k, index) in indices.enumerated() where index >= 0 { dx[Int(index)] += grad.scalars[k] }
        return Tensor(shape: inputShape, scalars: dx)
    }

    /// Average over each window's real (non-padding) inputs: x [N, H, W, C] → [N, outH, outW, C].
    public func avgPool2d(_ g: Conv2DGeometry) -> Tensor {
        let d = PoolDimensions(shape, g)
        var out = [Float](repeating: 0, count: d.outputCount)
        scalars.withUnsafeBufferPointer { px in
            out.withUnsafeMutableBufferPointer { po in
                d.forEachWindow { outOffset, inOffsets in
                    for inOffset in inOffsets {
                        for ch in 0..<d.channels { po[outOffset + ch] += px[inOffset + ch] }
                    }
                    let scale = 1 / Float(Swift.max(inOffsets.count, 1))
                    for ch in 0..<d.channels { po[outOffset + ch] *= scale }
                }
            }
        }
        return Tensor(shape: d.outputShape, scalars: out)
    }

    /// The gradient of `avgPool2d`: each output gradient spread evenly over its window's real inputs.
    public static func avgPool2dBackward(grad: Tensor, inputShape: [Int], geometry g: Conv2DGeometry) -> Tensor {
        let d = PoolDimensions(inputShape, g)
        precondition(grad.shape == d.outputShape, "avgPool2dBackward: gradient \(grad.shape) where the output is \(d.outputShape)")
        var dx = [Float](repeating: 0, count: inputShape.elementCount)
        grad.scalars.withUnsafeBufferPointer { pg in
            dx.withUnsafeMutableBufferPointer { pdx in
                d.forEachWindow { outOffset, inOffsets in
                    let scale = 1 / Float(Swift.max(inOffsets.count, 1))
                    for inOffset in inOffsets {
                        for ch in 0..<d.channels { pdx[inOffset + ch] += pg[outOffset + ch] * scale }
                    }
                }
            }
        }
        return Tensor(shape: inputShape, scalars: dx)
    }

    /// Mean over height and width: x [N, H, W, C] → [N, C] (Keras's `GlobalAveragePooling2D`).
    public func globalAvgPool2d() -> Tensor {
        precondition(rank == 4, "globalAvgPool2d: input \(shape) should be [N, H, W, C]")
        let (n, pixels, c) = (shape[0], shape[1] * shape[2], shape[3])
        var out = [Float](repeating: 0, count: n * c)
        let scale = 1 / Float(Swift.max(pixels, 1))
        scalars.withUnsafeBufferPointer { px in
            for b in 0..<n {
                for p in 0..<pixels {
                    let row = (b * pixels + p) * c
                    for ch in 0..<c { out[b * c + ch] += px[row + ch] }
                }
                for ch in 0..<c { out[b * c + ch] *= scale }
            }
        }
        return Tensor(shape: [n, c], scalars: out)
    }

    /// The gradient of `globalAvgPool2d`: grad [N, C] spread evenly over each image's pixels.
    public static func globalAvgPool2dBackward(grad: Tensor, inputShape: [Int]) -> Tensor {
        let (n, pixels, c) = (inputShape[0], inputShape[1] * inputShape[2], inputShape[3])
        precondition(grad.shape == [n, c], "globalAvgPool2dBackward: gradient \(grad.shape) for input \(inputShape)")
        let scale = 1 / Float(Swift.max(pixels, 1))
        var dx = [Float](repeating: 0, count: inputShape.elementCount)
        for b in 0..<n {
            for p in 0..<pixels {
                for ch in 0..<c { dx[(b * pixels + p) * c + ch] = grad.scalars[b * c + ch] * scale }
            }
        }
        return Tensor(shape: inputShape, scalars: dx)
    }
}

/// The extents of one pooling call, and the walk over its windows.
struct PoolDimensions {
    let batch: Int, channels: Int
    let rows: Conv2DGeometry.Axis, columns: Conv2DGeometry.Axis

    init(_ x: [Int], _ g: Conv2DGeometry) {
        precondition(x.count == 4, "pool2d: input \(x) should be [N, H, W, C]")
        batch = x[0]; channels = x[3]
        rows = g.rows(x[1]); columns = g.columns(x[2])
    }

    var outputShape: [Int] { [batch, rows.output, columns.output, channels] }
    var outputCount: Int { outputShape.elementCount }

    /// Calls `body(outOffset, inOffsets)` for every output pixel with the flat offsets of the
    /// first channel of its output and of each real input pixel in its window.
    func forEachWindow(_ body: (Int, [Int]) -> Void) {
        var offsets: [Int] = []
        offsets.reserveCapacity(rows.kernel * columns.kernel)
        for n in 0..<batch {
            for oh in 0..<rows.output {
                for ow in 0..<columns.output {
                    offsets.removeAll(keepingCapacity: true)
                    for i in 0..<rows.kernel {
                        let ih = rows.source(oh, i)
                        guard ih >= 0 && ih < rows.input else { continue }
                        for j in 0..<columns.kernel {
                            let iw = columns.source(ow, j)
                            guard iw >= 0 && iw < columns.input else { continue }
                            offsets.append(((n * rows.input + ih) * columns.input + iw) * channels)
                        }
                    }
                    body(((n * rows.output + oh) * columns.output + ow) * channels, offsets)
                }
            }
        }
    }
}
