import Foundation
import Testing
import NanoTensor
@testable import NanoForge

/// Not a test: the GPTQ micro-benchmark, run only with NANOFORGE_BENCH=1 in a release build
/// (`swift test -c release -Xswiftc -enable-testing --skip-build --filter GPTQBenchmark`).
/// It prints timings and asserts nothing about them.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["NANOFORGE_BENCH"] != nil))
struct GPTQBenchmarkTests {
    @Test(arguments: [(1536, 384), (384, 1536), (384, 384)])
    func timeOneLayer(_ shape: (Int, Int)) throws {
        let (out, inputs) = shape
        let rows = 256 * 30   // 256 calibration sentences of ~30 tokens
        var rng = RandomGenerator(seed: 13)
        let w = rng.normal(shape: [out, inputs], std: 0.05)
        let x = correlatedInputs(rows: rows, columns: inputs, rank: 128, seed: 14)
        let clock = ContinuousClock()
        var accumulator = HessianAccumulator(columns: inputs)
        let hessianTime = try clock.measure { try accumulator.add(x) }
        let configuration = GPTQ.Configuration(scheme: QuantizationScheme(bits: 4, granularity: .group(128)), scaleFormat: .float16)
        _ = try GPTQ.quantize(w, hessian: accumulator, configuration: configuration)   // warm-up
        let gptqTime = try clock.measure { _ = try GPTQ.quantize(w, hessian: accumulator, configuration: configuration) }
        let mse = GPTQ.Configuration(scheme: configuration.scheme, observer: .mse, scaleFormat: .float16)
        let mseTime = try clock.measure { _ = try GPTQ.quantize(w, hessian: accumulator, configuration: mse) }
        print("GPTQ bench [\(out), \(inputs)] n=\(rows): Hessian \(hessianTime), GPTQ int4 g128 \(gptqTime), with mse observer \(mseTime)")
    }
}
