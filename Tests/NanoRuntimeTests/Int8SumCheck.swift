@testable import NanoRuntime

/// How many of `gemm`'s Int32 sums Σ qa · w differ from Int64 plain loops, for activation codes
/// `qa` ([m, paddedColumns], Int16-widened) and weight codes `codes` ([n, k], row-major): the
/// exactness check every Int8GEMM path's test shares.
func int8SumMismatches(_ gemm: Int8GEMM, activations qa: [Int16], codes: [Int32], m: Int, n: Int, k: Int) -> Int {
    let sums = gemm.integerProducts(qa, m: m)
    var mismatches = 0
    for i in 0..<m {
        for r in 0..<n {
            var s: Int64 = 0
            for c in 0..<k { s += Int64(qa[i * gemm.paddedColumns + c]) * Int64(codes[r * k + c]) }
            if Int64(sums[i * n + r]) != s { mismatches += 1 }
        }
    }
    return mismatches
}
