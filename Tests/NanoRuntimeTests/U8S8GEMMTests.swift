import NanoForge
@testable import NanoQuant
@testable import NanoRuntime
import NanoTensor
import TestSupport
import Testing

/// `U8S8GEMM` against plain loops of the same quantization: the packed 7-bit codes byte for byte,
/// the zero-point-corrected Int32 sums bit for bit, then the float output.
@Suite struct U8S8GEMMTests {
    static let scheme = QuantizationScheme(bits: 8, symmetric: true, granularity: .channel)

    /// The reference quantization of one row: `QuantizationNumerics`' 7-bit asymmetric parameters
    /// of the row's own range, codes by `U8S8GEMM.code`.
    static func referenceCodes(_ row: ArraySlice<Float>) -> (codes: [Int32], p: QuantizationParameters) {
        let p = QuantizationNumerics.parameters(min: row.min() ?? 0, max: row.max() ?? 0, bits: 7, symmetric: false)
        return (row.map { Int32(U8S8GEMM.code($0, inverse: 1 / p.scale, zero: p.zeroPoint)) }, p)
    }

    /// Code of row i, column c in the packed layout (`U8S8GEMM.Activations.codes`).
    static func packedCode(_ a: U8S8GEMM.Activations, _ gemm: U8S8GEMM, _ i: Int, _ c: Int) -> UInt8 {
        a.codes[(i / 4) * gemm.paddedColumns * 4 + (c / 4) * 16 + (i % 4) * 4 + c % 4]
    }

    /// x [m, k] with rows of several kinds: random, constant (min == max: zero, positive,
    /// negative), all positive, {0, 1} (codes exactly 0 and 127) and {−1, 0, 1} (the upper clamp).
    static func activations(m: Int, k: Int, seed: UInt64) -> [Float] {
        var x = KernelTests.random([m, k], seed: seed).scalars
        for i in 0..<m {
            let row = (i * k)..<((i + 1) * k)
            switch i % 7 {
            case 1: for j in row { x[j] = 0 }
            case 2: for j in row { x[j] = 2.5 }
            case 3: for j in row { x[j] = -3 }
            case 4: for j in row { x[j] = abs(x[j]) + 0.25 }
            case 5: for j in row { x[j] = j % 3 == 0 ? 0 : 1 }
            // {−1, 0, 1}: zero point 64 (63.5 rounded to even), so 1 → 128 before the clamp.
            case 6: for j in row { x[j] = Float(j % 3) - 1 }
            default: break
            }
        }
        return x
    }

    /// Quantizes x with the fused pass and checks every code, the padding, scales and zero points
    /// against the reference; returns the packed activations.
    static func checkedActivations(_ gemm: U8S8GEMM, _ x: [Float], m: Int, sourceLocation: SourceLocation = #_sourceLocation)
        -> U8S8GEMM.Activations {
        let k = gemm.columns
        let a = x.withUnsafeBufferPointer { gemm.quantizeActivations($0.baseAddress!, m: m) }
        #expect(a.codes.count == (m + 3) / 4 * 4 * gemm.paddedColumns, sourceLocation: sourceLocation)
        var mismatches = 0
        for i in 0..<((m + 3) / 4 * 4) {
            if i >= m {
                for c in 0..<gemm.paddedColumns where packedCode(a, gemm, i, c) != 0 { mismatches += 1 }
                continue
            }
            let (codes, p) = referenceCodes(x[(i * k)..<((i + 1) * k)])
            if a.scales[i] != p.scale || a.zeroPoints[i] != p.zeroPoint { mismatches += 1 }
            for c in 0..<gemm.paddedColumns where Int32(packedCode(a, gemm, i, c)) != (c < k ? codes[c] : 0) { mismatches += 1 }
        }
        #expect(mismatches == 0, "m=\(m) k=\(k)", sourceLocation: sourceLocation)
        return a
    }

    /// Σ_k (qa − z) · w in Int64.
    static func referenceSums(_ a: U8S8GEMM.Activations, _ gemm: U8S8GEMM, weights codes: [Int32], m: Int) -> [Int64] {
        let (n, k) = (gemm.rows, gemm.columns)
        var out = [Int64](repeating: 0, count: m * n)
        for i in 0..<m {
            for r in 0..<n {
                var s: Int64 = 0
                for c in 0..<k { s += (Int64(packedCode(a, gemm, i, c)) - Int64(a.zeroPoints[i])) * Int64(codes[r * k + c]) }
                out[i * n + r] = s
            }
        }
        return out
    }

    @Test func codesMatchTheScalarQuantization() throws {
        // K: multiples of 8 (vector loop only), of 4 but not 8, and not of 4 (scalar tail + padding).
        for (m, k) in [(1, 1), (3, 5), (7, 12), (9, 16), (13, 53), (64, 384)] {
            let gemm = try #require(U8S8GEMM(PackedWeight(try RTN.quantize(KernelTests.random([3, k], seed: 1), scheme: Self.scheme))))
            _ = Self.checkedActivations(gemm, Self.activations(m: m, k: k, seed: UInt64(k)), m: m)
        }
        // Enough work for the rows to be split over workers.
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        Parallel.workers = 2
        let gemm = try #require(U8S8GEMM(PackedWeight(try RTN.quantize(KernelTests.random([3, 1536], seed: 2), scheme: Self.scheme))))
        _ = Self.checkedActivations(gemm, Self.activations(m: 70, k: 1536, seed: 3), m: 70)
    }

    /// Odd K (a padded quad), rows not a multiple of 4, outputs not a multiple of 16, more rows
    /// than one L2 chunk (K = 384: 168 rows), one and two workers.
    @Test func integerSumsAreExact() throws {
        // Back to the default, not to a value read while another suite may have set it.
        let saved = Parallel.defaultWorkers
        defer { Parallel.workers = saved }
        for workers in [1, 2] {
            Parallel.workers = workers
            for (m, n, k) in [(1, 1, 1), (3, 17, 7), (5, 33, 129), (9, 130, 384), (6, 16, 2), (4, 16, 4), (200, 40, 384)] {
                let q = try RTN.quantize(KernelTests.random([n, k], seed: UInt64(n * k)), scheme: Self.scheme)
                let gemm = try #require(U8S8GEMM(PackedWeight(q)))
                let codes = QuantizationNumerics.unpack(q.packed, count: n * k, bits: 8, signed: true)
                let a = Self.checkedActivations(gemm, Self.activations(m: m, k: k, seed: UInt64(m + k)), m: m)
                let sums = gemm.integerProducts(a, m: m), expected = Self.referenceSums(a, gemm, weights: codes, m: m)
                #expect(zip(sums, expected).filter { Int64($0) != $1 }.count == 0, "m=\(m) n=\(n) k=\(k) workers=\(workers)")
            }
        }
    }

    /// The saturation bound: activation codes 0 and 127 only (rows of {0, 1}: zero point 0) against
    /// weights of ±127 and −128 (a pair sum reaches 2 · 127 · 128 = 32,512), over K = 1537, where
    /// the accumulators also grow large. −128 is outside the symmetric grid but a checkpoint could
    /// hold it; it is exact too.
    @Test func fullScaleCodesDoNotSaturate() throws {
        let (m, n, k) = (7, 20, 1537)
        var state: UInt64 = 5
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        // Rows 0…3: every weight −128 or 127 with long same-sign runs; the rest ±127 at random.
        var codes = [Int32](repeating: 0, count: n * k)
        for r in 0..<n {
            for c in 0..<k {
                codes[r * k + c] = r < 4 ? ((c / (r + 1)) % 2 == 0 ? -128 : 127) : (next() % 2 == 0 ? 127 : -127)
            }
        }
        let w = PackedWeight(rows: n, columns: k, storage: .int8, signed: true, groupSize: k,
                             scales: [Float](repeating: 0.01, count: n), offsets: nil, codes: codes.map { UInt8(truncatingIfNeeded: $0) })
        let gemm = try #require(U8S8GEMM(w))
        var x = [Float](repeating: 0, count: m * k)
        for i in 0..<m {
            // Row 0: all ones (every code 127); the others {0, 1} at random.
            for c in 0..<k { x[i * k + c] = i == 0 || next() % 2 == 0 ? 1 : 0 }
            x[i * k] = 0  // the range starts at 0: zero point 0
        }
        let a = Self.checkedActivations(gemm, x, m: m)
        #expect(a.zeroPoints.allSatisfy { $0 == 0 })
        #expect(Self.packedCode(a, gemm, 0, 1) == 127)
        let sums = gemm.integerProducts(a, m: m), expected = Self.referenceSums(a, gemm, weights: codes, m: m)
        #expect(zip(sums, expected).filter { Int64($0) != $1 }.count == 0)
    }

    @Test func forwardMatchesReference() throws {
        for (m, n, k) in [(1, 5, 17), (7, 37, 53), (64, 130, 384)] {
            let q = try RTN.quantize(KernelTests.random([n, k], seed: UInt64(n)), scheme: Self.scheme)
            let gemm = try #require(U8S8GEMM(PackedWeight(q)))
            let codes = QuantizationNumerics.unpack(q.packed, count: n * k, bits: 8, signed: true)
            let x = Self.activations(m: m, k: k, seed: UInt64(m + 1000))
            let bias = KernelTests.random([n], seed: 3)
            var y = [Float](repeating: 0, count: m * n)
            x.withUnsafeBufferPointer { px in
                bias.scalars.withUnsafeBufferPointer { pb in gemm.forward(px.baseAddress!, m: m, bias: pb.baseAddress!, out: &y) }
            }
            for i in 0..<m {
                let (qa, p) = Self.referenceCodes(x[(i * k)..<((i + 1) * k)])
                for r in 0..<n {
                    var s: Int64 = 0
                    for c in 0..<k { s += Int64(qa[c] - p.zeroPoint) * Int64(codes[r * k + c]) }
                    let expected = Float(s) * p.scale * q.scales[r] + bias.scalars[r]
                    #expect(abs(y[i * n + r] - expected) <= 1e-4 * max(1, abs(expected)), "m=\(m) n=\(n) k=\(k) [\(i), \(r)]")
                }
            }
            // And close to the fp32 product of the dequantized weight (activation rounding only:
            // 7-bit steps, half an 8-bit symmetric step's resolution).
            let fp = KernelTests.referenceLinear(Tensor(shape: [m, k], scalars: x), q.dequantized(), bias)
            #expect(maxAbsDifference(Tensor(shape: [m, n], scalars: y), fp) < 0.1 * Float(k).squareRoot() / 4)
        }
    }

    @Test func declinesOtherSchemes() throws {
        for (scheme, rows, columns, _) in KernelTests.cases.dropFirst() {
            let q = try RTN.quantize(KernelTests.random([rows, columns], seed: 1), scheme: scheme)
            #expect(U8S8GEMM(PackedWeight(q)) == nil, "\(scheme)")
        }
        // K past 2¹⁷ could overflow the Int32 sums.
        let k = U8S8GEMM.maxColumns + 1
        let wide = PackedWeight(rows: 1, columns: k, storage: .int8, signed: true, groupSize: k, scales: [1], offsets: nil,
                                codes: [UInt8](repeating: 1, count: k))
        #expect(U8S8GEMM(wide) == nil)
    }
}
