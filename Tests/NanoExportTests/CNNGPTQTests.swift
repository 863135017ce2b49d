import Foundation
import Testing
import NanoForge
import NanoModels
import NanoTensor
import TestSupport
@testable import NanoQuant

/// GPTQ on the convolutions of a full-integer CNN (`GPTQ.convolutionRounding` as the
/// `IntegerCNN` builder's weight rounding), on the tiny random graph of `CNNExportTests` (Conv2D,
/// depthwise with multiplier 2, a dilated separable's two halves, a strided shortcut, Dense).
@Suite struct CNNGPTQTests {
    /// ‖X·(W − Ŵ)ᵀ‖² summed over the calibration images: X the im2col of the layer's inputs (a
    /// depthwise output o reads only input channel o / M), Ŵ the codes times their channel's scale.
    static func outputError(_ p: IntegerCNN.WeightRoundingProblem, _ q: QuantizedTensor) -> Double {
        let w = p.weights.scalars, codes = q.codes(), (rows, columns) = (p.weights.shape[0], p.weights.shape[1])
        var total = 0.0
        for image in p.inputs {
            let dense = p.depthMultiplier == 0 ? p.patches(image) : nil
            for o in 0..<rows {
                let x = dense ?? p.patches(image, channel: o / p.depthMultiplier)
                for pixel in 0..<p.pixels {
                    var e = 0.0
                    for i in 0..<columns {
                        let d = Double(w[o * columns + i]) - Double(codes[o * columns + i]) * Double(q.scales[o])
                        e += Double(x.scalars[pixel * columns + i]) * d
                    }
                    total += e * e
                }
            }
        }
        return total
    }

    /// The float convolution of one input with the problem's weights, by the tensor core's own
    /// kernels (what `patches` must reproduce as a product).
    static func floatConvolution(_ p: IntegerCNN.WeightRoundingProblem, _ image: [Float]) -> Tensor {
        let g = p.window, w = p.weights, (rows, columns) = (w.shape[0], w.shape[1])
        let validH = (g.inHeight - (g.kernelHeight - 1) * g.dilationHeight - 1) / g.strideHeight + 1
        let validW = (g.inWidth - (g.kernelWidth - 1) * g.dilationWidth - 1) / g.strideWidth + 1
        let geometry = Conv2DGeometry(kernel: (g.kernelHeight, g.kernelWidth), strides: (g.strideHeight, g.strideWidth),
                                      dilation: (g.dilationHeight, g.dilationWidth),
                                      padding: g.outHeight == validH && g.outWidth == validW ? .valid : .same)
        let x = Tensor(shape: [1, g.inHeight, g.inWidth, g.inChannels], scalars: image)
        if p.depthMultiplier == 0 {
            // [out][kh·kw·in] → [kh, kw, in, out]
            let kernel = Tensor(shape: [g.kernelHeight, g.kernelWidth, g.inChannels, rows]) { i in w.scalars[(i % rows) * columns + i / rows] }
            return Tensor.conv2d(x, kernel: kernel, geometry: geometry)
        }
        // [C·M][kh·kw] → [kh, kw, C, M]
        let kernel = Tensor(shape: [g.kernelHeight, g.kernelWidth, g.inChannels, p.depthMultiplier]) { i in
            w.scalars[(i % rows) * columns + i / rows]
        }
        return Tensor.depthwiseConv2d(x, kernel: kernel, geometry: geometry)
    }

    @Test(arguments: [6, 7] as [UInt64])
    func gptqNeverRaisesALayersOutputErrorAboveRTN(_ seed: UInt64) throws {
        let model = CNNExportTests.tinyGraph(seed: seed)
        let calibration = CNNExportTests.rows(24, width: 11 * 9 * 3, seed: 21 + seed)
        let gptq = GPTQ.convolutionRounding()
        var seen: [(problem: IntegerCNN.WeightRoundingProblem, codes: QuantizedTensor)] = []
        let integer = try IntegerCNN(calibrating: model, features: calibration, file: "tiny", percentile: 99.99, rounding: { problem in
            let q = try gptq(problem)
            seen.append((problem, q))
            return q
        })
        #expect(seen.map(\.problem.layer) == ["conv", "depthwise", "separable/depthwise", "separable", "shortcut", "dense"])

        // Each layer saw its inputs as the finished integer model computes them (dequantized).
        let convolutions = integer.operations.filter { if case .convolution = $0.kind { return true } else { return false } }
        let runs = calibration.map { integer.run(integer.quantizeInput($0)) }
        for ((problem, q), op) in zip(seen, convolutions) {
            let grid = integer.tensors[op.inputs[0]].grid
            #expect(problem.inputs == runs.map { $0[op.inputs[0]].map { QuantizationNumerics.dequantize(Int32($0), grid) } }, "\(problem.layer)")
            guard case .convolution(let c) = op.kind else { continue }
            #expect(c.weights == q.codes().map { Int8($0) } && c.weightScales == q.scales, "\(problem.layer): the model stores GPTQ's codes")
            // The im2col is the convolution: patches · Wᵀ = conv(x, W) on every output pixel.
            let image = problem.inputs[0], conv = Self.floatConvolution(problem, image).scalars
            var product: [Float] = []
            if problem.depthMultiplier == 0 {
                product = Tensor.matmul(problem.patches(image), problem.weights, transposeB: true).scalars
            } else {
                let rows = problem.weights.shape[0], columns = problem.weights.shape[1]
                product = [Float](repeating: 0, count: problem.pixels * rows)
                for o in 0..<rows {
                    let x = problem.patches(image, channel: o / problem.depthMultiplier)
                    for pixel in 0..<problem.pixels {
                        var s: Float = 0
                        for i in 0..<columns { s += x.scalars[pixel * columns + i] * problem.weights.scalars[o * columns + i] }
                        product[pixel * rows + o] = s
                    }
                }
            }
            #expect(product.count == conv.count)
            let worst = zip(product, conv).map { abs($0 - $1) }.max() ?? 0
            #expect(worst <= 1e-4 * (conv.map(abs).max() ?? 1), "\(problem.layer): im2col product vs conv2d, max |Δ| \(worst)")
        }

        // On the inputs it was given, GPTQ's output error is at most RTN's, layer by layer (a
        // channel keeps RTN's codes where GPTQ's damped solution is worse: the tolerance covers the
        // Float-summed Hessian that choice reads), and well below it over the whole model.
        var total = (gptq: 0.0, rtn: 0.0)
        for (problem, q) in seen {
            let rtn = try RTN.quantize(problem.weights, scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
            let (g, r) = (Self.outputError(problem, q), Self.outputError(problem, rtn))
            print(String(format: "GPTQ conv seed %llu %@: output error %.4g (RTN %.4g, ratio %.3f)", seed, problem.layer, g, r, g / r))
            #expect(g <= r * (1 + 1e-5), "\(problem.layer): GPTQ \(g) > RTN \(r)")
            total.gptq += g / r; total.rtn += 1
        }
        print(String(format: "GPTQ conv seed %llu: mean ratio to RTN %.3f", seed, total.gptq / total.rtn))
        #expect(total.gptq / total.rtn < 0.9)
    }
}
