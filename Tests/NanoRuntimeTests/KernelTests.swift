import NanoForge
@testable import NanoQuant
@testable import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// Each runtime kernel against a plain-loop reference on random shapes, odd sizes included.
@Suite struct KernelTests {
    /// Schemes × shapes: int8 sym/asym per channel (odd columns: the scalar tail), int4 sym/asym
    /// groups (nibble blocks), int4 group 16 and 3-bit (byte container), 2-bit per tensor.
    static let cases: [(QuantizationScheme, rows: Int, columns: Int, PackedWeight.Storage)] = [
        (QuantizationScheme(bits: 8, symmetric: true, granularity: .channel), 37, 53, .int8),
        (QuantizationScheme(bits: 8, symmetric: false, granularity: .channel), 20, 70, .int8),
        (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(32)), 19, 96, .int4),
        (QuantizationScheme(bits: 4, symmetric: false, granularity: .group(64)), 33, 128, .int4),
        (QuantizationScheme(bits: 4, symmetric: true, granularity: .group(16)), 9, 48, .int8),
        (QuantizationScheme(bits: 3, symmetric: false, granularity: .channel), 11, 31, .int8),
        (QuantizationScheme(bits: 2, symmetric: false, granularity: .tensor), 7, 30, .int8),
    ]

    static func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return rng.normal(shape: shape, std: 0.5)
    }

    @Test func dequantizedPanelsMatchQuantizedTensor() throws {
        for (i, (scheme, rows, columns, storage)) in Self.cases.enumerated() {
            let q = try RTN.quantize(Self.random([rows, columns], seed: UInt64(i)), scheme: scheme)
            let w = PackedWeight(q)
            #expect(w.storage == storage, "\(scheme)")
            let reference = q.dequantized()
            // Two panels, the second starting mid-matrix, as PackedLinear cuts them.
            let split = rows / 3
            var panel = [Float](repeating: .nan, count: rows * columns)
            panel.withUnsafeMutableBufferPointer { p in
                DequantKernels.dequantize(w, rows: 0, count: split, into: p.baseAddress!)
                DequantKernels.dequantize(w, rows: split, count: rows - split, into: p.baseAddress! + split * columns)
            }
            // q·s + (−z·s) against (q − z)·s: equal up to one rounding of the product.
            #expect(maxAbsDifference(Tensor(shape: [rows, columns], scalars: panel), reference) < 1e-5, "\(scheme)")
        }
    }

    /// Plain loops: x · deq(W)ᵀ + b in Double.
    static func referenceLinear(_ x: Tensor, _ w: Tensor, _ b: Tensor) -> Tensor {
        let (m, k, n) = (x.shape[0], x.shape[1], w.shape[0])
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for r in 0..<n {
                var s = Double(b.scalars[r])
                for c in 0..<k { s += Double(x.scalars[i * k + c]) * Double(w.scalars[r * k + c]) }
                out[i * n + r] = Float(s)
            }
        }
        return Tensor(shape: [m, n], scalars: out)
    }

    @Test func packedLinearMatchesReference() throws {
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        for workers in [1, 2] {
            Parallel.workers = workers
            for (i, (scheme, rows, columns, _)) in Self.cases.enumerated() {
                // 300 rows: several panels (and a ragged last one) for the 53- and 70-column cases.
                let n = i == 0 ? 300 : rows
                let q = try RTN.quantize(Self.random([n, columns], seed: UInt64(10 + i)), scheme: scheme)
                let w = PackedWeight(q)
                let bias = Self.random([n], seed: 99)
                for m in [1, 5, 67] {
                    let x = Self.random([m, columns], seed: UInt64(m))
                    let layer = RuntimeLinear(name: "l", weight: .packed(w, nil), bias: bias.scalars, input: nil)
                    let y = layer(x, kernel: .dequant)
                    let expected = Self.referenceLinear(x, q.dequantized(), bias)
                    #expect(maxAbsDifference(y, expected) < 1e-4, "\(scheme) m=\(m) workers=\(workers)")
                }
            }
        }
    }

    @Test func int8GEMMMatchesIntegerReference() throws {
        let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
        for (m, n, k) in [(1, 5, 17), (7, 37, 53), (64, 130, 384)] {
            let q = try RTN.quantize(Self.random([n, k], seed: UInt64(n)), scheme: scheme)
            let w = PackedWeight(q)
            let gemm = try #require(Int8GEMM(w))
            let x = Self.random([m, k], seed: UInt64(m + 1000))
            let bias = Self.random([n], seed: 3)
            var y = [Float](repeating: 0, count: m * n)
            x.scalars.withUnsafeBufferPointer { px in
                bias.scalars.withUnsafeBufferPointer { pb in gemm.forward(px.baseAddress!, m: m, bias: pb.baseAddress!, out: &y) }
            }
            // Reference: each row quantized by QuantizationNumerics itself, integer sums, then scaled.
            let codes = QuantizationNumerics.unpack(q.packed, count: n * k, bits: 8, signed: true)
            for i in 0..<m {
                let row = Array(x.scalars[(i * k)..<((i + 1) * k)])
                let absmax = row.map(abs).max() ?? 0
                let p = QuantizationNumerics.parameters(min: -absmax, max: absmax, bits: 8, symmetric: true)
                let qa = row.map { QuantizationNumerics.quantize($0, p, qmin: -127, qmax: 127) }
                for r in 0..<n {
                    var s: Int64 = 0
                    for c in 0..<k { s += Int64(qa[c]) * Int64(codes[r * k + c]) }
                    let expected = Float(s) * p.scale * q.scales[r] + bias.scalars[r]
                    #expect(abs(y[i * n + r] - expected) <= 1e-4 * max(1, abs(expected)), "m=\(m) n=\(n) k=\(k) [\(i), \(r)]")
                }
            }
            // And close to the fp32 product of the dequantized weight (activation rounding only).
            let fp = Self.referenceLinear(x, q.dequantized(), bias)
            #expect(maxAbsDifference(Tensor(shape: [m, n], scalars: y), fp) < 0.05 * Float(k).squareRoot() / 4)
        }
    }

    /// The micro-kernel's Int32 sums, bit for bit, against Int64 plain loops: odd K (the padded
    /// pair), rows not a multiple of 4, outputs not a multiple of 16, and full-scale ±127 codes
    /// over K = 1537 (no overflow in the pairwise sums or the accumulators).
    @Test func int8GEMMIntegerSumsAreExact() throws {
        let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        for (m, n, k, fullScale) in [(1, 1, 1, false), (3, 17, 7, false), (5, 33, 129, false), (9, 130, 384, false),
                                     (6, 16, 2, false), (7, 20, 1537, true)] {
            let q = try RTN.quantize(Self.random([n, k], seed: UInt64(n * k)), scheme: scheme)
            let gemm = try #require(Int8GEMM(PackedWeight(q)))
            let codes = QuantizationNumerics.unpack(q.packed, count: n * k, bits: 8, signed: true)
            var qa = [Int16](repeating: 0, count: m * gemm.paddedColumns)
            for i in 0..<m {
                for c in 0..<k { qa[i * gemm.paddedColumns + c] = Int16(fullScale ? (next() % 2 == 0 ? 127 : -127) : next() % 255 - 127) }
            }
            let mismatches = int8SumMismatches(gemm, activations: qa, codes: codes, m: m, n: n, k: k)
            #expect(mismatches == 0, "m=\(m) n=\(n) k=\(k)")
        }
    }

    /// The epilogue's inlined Int32 → Float against Float(Int32), bit for bit, over the full range.
    @Test func int8GEMMFloatConversionIsExact() {
        var state: UInt64 = 11
        var values: [Int32] = [0, 1, -1, .max, .min, 16_777_217, -16_777_217, 65535, -65536, 24_774_019]
        for _ in 0..<4000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values.append(Int32(truncatingIfNeeded: state >> 32) >> Int32(state % 24))
        }
        for start in stride(from: 0, to: values.count - 8, by: 8) {
            let v = SIMD8<Int32>(values[start..<(start + 8)])
            let converted = Int8GEMM.float(v)
            for j in 0..<8 { #expect(converted[j].bitPattern == Float(v[j]).bitPattern, "\(v[j])") }
        }
    }

    /// The fused query-key-value layer gives each layer's output bit for bit (the same activation
    /// codes, weight codes and sums), bias or not; layers it cannot fuse give nil.
    @Test func concatenatedLayersMatchEachLayer() throws {
        let int8 = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
        let (m, k) = (70, 53)
        var layers: [RuntimeLinear] = []
        for (i, n) in [37, 16, 21].enumerated() {
            let w = PackedWeight(try RTN.quantize(Self.random([n, k], seed: UInt64(40 + i)), scheme: int8))
            layers.append(RuntimeLinear(name: "l\(i)", weight: .packed(w, nil), bias: i == 1 ? nil : Self.random([n], seed: UInt64(i)).scalars, input: nil))
        }
        let x = Self.random([m, k], seed: 9)
        for kernel in [RuntimeKernel.integer, .u8s8] {
            let fused = try #require(RuntimeLinear.concatenated(layers, name: "qkv", kernel: kernel))
            let y = fused(x, kernel: kernel), parts = layers.map { $0.with(kernel)(x, kernel: kernel) }
            var expected: [Float] = []
            for i in 0..<m { for p in parts { expected += p.scalars[(i * p.shape[1])..<((i + 1) * p.shape[1])] } }
            #expect(y.shape == [m, 74] && y.scalars == expected, "\(kernel)")
        }
        let asymmetric = PackedWeight(try RTN.quantize(Self.random([8, k], seed: 1), scheme: QuantizationScheme(bits: 8, symmetric: false, granularity: .channel)))
        #expect(RuntimeLinear.concatenated(layers + [RuntimeLinear(name: "asymmetric", weight: .packed(asymmetric, nil), bias: nil, input: nil)],
                                           name: "qkv", kernel: .u8s8) == nil)
    }

    @Test func int8GEMMDeclinesOtherSchemes() throws {
        for (scheme, rows, columns, _) in Self.cases.dropFirst() {
            let q = try RTN.quantize(Self.random([rows, columns], seed: 1), scheme: scheme)
            #expect(Int8GEMM(PackedWeight(q)) == nil, "\(scheme)")
        }
    }
}

/// The zero-skipping 2:4 kernel against the plain loop on the dequantized weight.
@Suite struct Sparse24KernelTests {
    @Test func skippingZerosMatchesReference() throws {
        for (m, n, k) in [(1, 5, 16), (70, 33, 48), (130, 17, 96)] {
            var w = KernelTests.random([n, k], seed: UInt64(k)).scalars
            for g in stride(from: 0, to: w.count, by: 4) {
                // Keep a varying number (0…2) of the four: the largest ones.
                let order = (g..<(g + 4)).sorted { abs(w[$0]) < abs(w[$1]) }
                for j in 0..<(2 + (g / 4) % 3) { w[order[j]] = 0 }
            }
            let q = try RTN.quantize(Tensor(shape: [n, k], scalars: w), scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
            let kernel = try #require(Sparse24Linear(PackedWeight(q)))
            let x = KernelTests.random([m, k], seed: 7), bias = KernelTests.random([n], seed: 8)
            var y = [Float](repeating: .nan, count: m * n)
            x.scalars.withUnsafeBufferPointer { px in
                bias.scalars.withUnsafeBufferPointer { pb in kernel.forward(px.baseAddress!, m: m, bias: pb.baseAddress!, out: &y) }
            }
            let expected = KernelTests.referenceLinear(x, q.dequantized(), bias)
            #expect(maxAbsDifference(Tensor(shape: [m, n], scalars: y), expected) < 1e-4, "m=\(m) n=\(n) k=\(k)")
        }
    }

    @Test func denseWeightsAreRejected() throws {
        let q = try RTN.quantize(KernelTests.random([8, 16], seed: 1), scheme: QuantizationScheme(bits: 8, symmetric: true, granularity: .channel))
        #expect(Sparse24Linear(PackedWeight(q)) == nil)
    }
}
