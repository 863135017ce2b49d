import NanoForge
@testable import NanoQuant
@testable import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// Every integer micro-kernel the CPU has (`VNNIMicroKernel`: AVX2, AVX-512 VNNI, AVX-VNNI and the
/// AVX-VNNI blocking in EVEX form) against Int64 plain loops, Int32 sums bit for bit, on random
/// shapes with row, column and K tails and extreme codes; the float outputs of each path bit for
/// bit against the AVX2 path (same sums, same epilogue). A path this CPU lacks is a skipped test,
/// named with its reason in the test output.
@Suite struct KernelDispatchTests {
    static let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)
    /// Rows not a multiple of 4 or 8, outputs not a multiple of 16 or 32, K not a multiple of 4,
    /// more rows than one L2 chunk (K = 384), K = 1537.
    static let shapes = [(1, 1, 1), (3, 17, 7), (5, 33, 129), (9, 130, 384), (6, 16, 2), (4, 16, 4), (8, 32, 8),
                         (200, 40, 384), (13, 47, 1537), (70, 96, 96)]

    static func next(_ state: inout UInt64) -> Int {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Int(state >> 33)
    }

    /// Weight codes: random in [−127, 127], or (fullScale) −128 / 127 in long same-sign runs.
    static func weight(n: Int, k: Int, fullScale: Bool, seed: UInt64) -> (PackedWeight, [Int32]) {
        var state = seed
        var codes = [Int32](repeating: 0, count: n * k)
        for r in 0..<n {
            for c in 0..<k {
                codes[r * k + c] = fullScale ? ((c / (r % 5 + 1)) % 2 == 0 ? -128 : 127) : Int32(next(&state) % 255 - 127)
            }
        }
        var scales = [Float](repeating: 0, count: n)
        for r in 0..<n { scales[r] = 0.001 * Float(r % 7 + 1) }
        let w = PackedWeight(rows: n, columns: k, storage: .int8, signed: true, groupSize: k, scales: scales, offsets: nil,
                             codes: codes.map { UInt8(truncatingIfNeeded: $0) })
        return (w, codes)
    }

    /// U8S8GEMM: 7-bit activations (random rows and the extreme rows of `U8S8GEMMTests.activations`;
    /// with `fullScale`, codes 0 and 127 only against weights −128 / 127), Σ (qa − z) · w exact.
    /// (8-bit u8 codes, 255 against −128, are `checkInt8`'s +128 offset codes on the VNNI kernels.)
    static func checkU8S8(_ kernel: VNNIMicroKernel) throws {
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        for workers in [1, 2] {
            Parallel.workers = workers
            for (index, (m, n, k)) in shapes.enumerated() {
                for fullScale in [false, true] {
                    let (w, codes) = weight(n: n, k: k, fullScale: fullScale, seed: UInt64(index * 2 + 1))
                    let gemm = try #require(U8S8GEMM(w, microKernel: kernel))
                    #expect(gemm.microKernel == kernel)
                    var x = U8S8GEMMTests.activations(m: m, k: k, seed: UInt64(m + k))
                    if fullScale { for i in 0..<(m * k) { x[i] = x[i] > 0 ? 1 : 0 } }  // codes 0 and 127 only
                    let a = U8S8GEMMTests.checkedActivations(gemm, x, m: m)
                    let sums = gemm.integerProducts(a, m: m), expected = U8S8GEMMTests.referenceSums(a, gemm, weights: codes, m: m)
                    #expect(zip(sums, expected).filter { Int64($0) != $1 }.count == 0,
                            "\(kernel) m=\(m) n=\(n) k=\(k) fullScale=\(fullScale) workers=\(workers)")
                }
            }
        }
    }

    /// Int8GEMM: symmetric int8 activation codes in [−127, 127] (random, or ±127 only), Σ qa · w exact.
    static func checkInt8(_ kernel: VNNIMicroKernel) throws {
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        var state: UInt64 = 17
        for workers in [1, 2] {
            Parallel.workers = workers
            for (index, (m, n, k)) in shapes.enumerated() {
                for fullScale in [false, true] {
                    let (w, codes) = weight(n: n, k: k, fullScale: fullScale, seed: UInt64(index * 2 + 2))
                    let gemm = try #require(Int8GEMM(w, microKernel: kernel))
                    #expect((gemm.vnni?.microKernel ?? .avx2) == kernel)
                    var qa = [Int16](repeating: 0, count: m * gemm.paddedColumns)
                    for i in 0..<m {
                        for c in 0..<k { qa[i * gemm.paddedColumns + c] = Int16(fullScale ? (next(&state) % 2 == 0 ? 127 : -127) : next(&state) % 255 - 127) }
                    }
                    let mismatches = int8SumMismatches(gemm, activations: qa, codes: codes, m: m, n: n, k: k)
                    #expect(mismatches == 0, "\(kernel) m=\(m) n=\(n) k=\(k) fullScale=\(fullScale) workers=\(workers)")
                }
            }
        }
    }

    /// Both GEMMs' float outputs through `kernel`, bit for bit equal to the AVX2 kernel's (the
    /// AVX-512 VNNI path quantizes on zmm and fuses the epilogue in C: shapes with row, column and
    /// K tails, several L2 row chunks, one and two workers).
    static func checkForward(_ kernel: VNNIMicroKernel) throws {
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        for (index, (m, n, k)) in [(1, 5, 17), (7, 37, 53), (64, 130, 384), (33, 70, 1536), (5, 16, 4), (9, 33, 130), (300, 48, 96),
                                   (1400, 20, 384), (70, 96, 96), (12, 1, 1)].enumerated() {
            Parallel.workers = index % 2 == 0 ? saved : 1
            let q = try RTN.quantize(KernelTests.random([n, k], seed: UInt64(n)), scheme: scheme)
            let w = PackedWeight(q)
            let x = U8S8GEMMTests.activations(m: m, k: k, seed: UInt64(m + 1000))
            let bias = KernelTests.random([n], seed: 3).scalars
            func run(_ gemm: any IntegerGEMM) -> [Float] {
                var y = [Float](repeating: 0, count: m * n)
                x.withUnsafeBufferPointer { px in bias.withUnsafeBufferPointer { pb in gemm.forward(px.baseAddress!, m: m, bias: pb.baseAddress!, out: &y) } }
                return y
            }
            let pairs: [(any IntegerGEMM, any IntegerGEMM, String)] = [
                (try #require(U8S8GEMM(w, microKernel: kernel)), try #require(U8S8GEMM(w, microKernel: .avx2)), "u8s8"),
                (try #require(Int8GEMM(w, microKernel: kernel)), try #require(Int8GEMM(w, microKernel: .avx2)), "int8"),
            ]
            // Int8GEMM's one-pass offset quantization: the two-pass codes (quantizeActivations, +128) byte for byte.
            if let vnni = try #require(Int8GEMM(w, microKernel: kernel)).vnni {
                let gemm = try #require(Int8GEMM(w, microKernel: kernel))
                let fused = x.withUnsafeBufferPointer { gemm.quantizeOffsetActivations($0.baseAddress!, m: m, for: vnni) }
                let (qa, sa) = x.withUnsafeBufferPointer { gemm.quantizeActivations($0.baseAddress!, m: m) }
                let twoPass = qa.withUnsafeBufferPointer { vnni.offsetActivations($0.baseAddress!, ld: gemm.paddedColumns, m: m, scales: sa) }
                #expect(fused.codes == twoPass.codes && fused.scales == sa && fused.zeroPoints == twoPass.zeroPoints, "\(kernel) m=\(m) k=\(k)")
            }
            for (fast, baseline, name) in pairs {
                let (y, y0) = (run(fast), run(baseline))
                #expect(zip(y, y0).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name) \(kernel) m=\(m) n=\(n) k=\(k)")
                // GELU fused into the GEMM (per L2 row chunk): the AVX2 path's outputs, then Tensor.gelu, bit for bit.
                #expect(fast.fusesGELU == (kernel == .vnni512) && !baseline.fusesGELU, "\(name) \(kernel)")
                var g = [Float](repeating: .nan, count: m * n)
                let fused = x.withUnsafeBufferPointer { px in bias.withUnsafeBufferPointer { pb in fast.forwardGELU(px.baseAddress!, m: m, bias: pb.baseAddress!, out: &g) } }
                #expect(fused == fast.fusesGELU, "\(name) \(kernel)")
                if fused {
                    let expected = Tensor(shape: [m, n], scalars: y0).gelu(approximation: .erf).scalars
                    #expect(zip(g, expected).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(name) \(kernel) + gelu m=\(m) n=\(n) k=\(k)")
                }
            }
        }
    }

    @Test func avx2Kernels() throws {
        try Self.checkU8S8(.avx2); try Self.checkInt8(.avx2)
    }

    @Test(.enabled(if: VNNIMicroKernel.vnni512.supported, "AVX-512 VNNI path skipped: this CPU lacks AVX-512 F/BW/VL + VNNI"))
    func avx512VNNIKernels() throws {
        try Self.checkU8S8(.vnni512); try Self.checkInt8(.vnni512); try Self.checkForward(.vnni512)
    }

    @Test(.enabled(if: VNNIMicroKernel.vnni256.supported, "AVX-VNNI path skipped: this CPU lacks AVX-VNNI"))
    func avxVNNIKernels() throws {
        try Self.checkU8S8(.vnni256); try Self.checkInt8(.vnni256); try Self.checkForward(.vnni256)
    }

    @Test(.enabled(if: VNNIMicroKernel.vnni256EVEX.supported, "AVX-VNNI blocking in EVEX form skipped: this CPU lacks AVX-512 VL + VNNI"))
    func avxVNNIBlockingInEVEXForm() throws {
        try Self.checkU8S8(.vnni256EVEX); try Self.checkInt8(.vnni256EVEX); try Self.checkForward(.vnni256EVEX)
    }

    /// `DequantKernels` under the AVX-512 set: every scheme's panel (int8 signed / unsigned with
    /// column tails, int4 nibble blocks, sub-byte codes in bytes) bit for bit equal to the AVX2
    /// path's, panels starting mid-matrix; and `PackedLinear` through both sets, bit for bit.
    @Test(.enabled(if: KernelSet.avx512VNNI.supported, "AVX-512 dequantization skipped: this CPU lacks AVX-512"))
    func avx512DequantizationMatchesAVX2() throws {
        for (i, (scheme, rows, columns, _)) in KernelTests.cases.enumerated() {
            let q = try RTN.quantize(KernelTests.random([rows, columns], seed: UInt64(40 + i)), scheme: scheme)
            let w = PackedWeight(q)
            var panels: [[Float]] = []
            for set in [KernelSet.avx2, .avx512VNNI] {
                var panel = [Float](repeating: .nan, count: rows * columns)
                let split = rows / 3
                panel.withUnsafeMutableBufferPointer { p in
                    DequantKernels.dequantize(w, rows: 0, count: split, into: p.baseAddress!, kernels: set)
                    DequantKernels.dequantize(w, rows: split, count: rows - split, into: p.baseAddress! + split * columns, kernels: set)
                }
                panels.append(panel)
            }
            #expect(zip(panels[0], panels[1]).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(scheme)")
            #expect(!panels[1].contains { $0.isNaN }, "\(scheme)")
            let m = 9, x = KernelTests.random([m, columns], seed: 5).scalars
            var outs: [[Float]] = []
            for set in [KernelSet.avx2, .avx512VNNI] {
                var y = [Float](repeating: 0, count: m * rows)
                x.withUnsafeBufferPointer { px in PackedLinear.forward(px.baseAddress!, m: m, weight: w, bias: nil, out: &y, kernels: set) }
                outs.append(y)
            }
            #expect(outs[0] == outs[1], "\(scheme)")
        }
    }

    /// A kernel set the CPU lacks is never run: the GEMMs fall back to the AVX2 kernel.
    @Test(.enabled(if: !KernelSet.unavailable.isEmpty, "every kernel set is available on this CPU"))
    func unavailableSetsFallBackToAVX2() throws {
        let (w, _) = Self.weight(n: 5, k: 9, fullScale: false, seed: 1)
        for set in KernelSet.unavailable {
            #expect(try #require(U8S8GEMM(w, kernels: set)).microKernel == .avx2, "\(set)")
            #expect(try #require(Int8GEMM(w, kernels: set)).vnni == nil, "\(set)")
        }
    }

    @Test func kernelSetsChooseTheirMicroKernels() throws {
        let (w, _) = Self.weight(n: 5, k: 9, fullScale: false, seed: 1)
        for set in KernelSet.available {
            #expect(try #require(U8S8GEMM(w, kernels: set)).microKernel.kernelSet == set, "\(set)")
        }
        #expect(try #require(U8S8GEMM(w, kernels: .avx2)).microKernel == .avx2)
        #expect(try #require(Int8GEMM(w, kernels: .avx2)).vnni == nil)
    }
}
