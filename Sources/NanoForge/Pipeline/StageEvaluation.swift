import NanoModels
import NanoRuntime
import NanoTensor

/// Measures the model after each stage: the recipe's metrics, size, parameters, sparsity,
/// latency and memory. The reference model's outputs for `fidelity` are computed once and reused
/// at every stage, since the reference never changes.
struct StageEvaluation {
    let tasks: [EvaluationTask]
    let reference: EvaluatedModel
    /// Inputs timed for latency (the first one alone, then up to 32 as one batch).
    let timing: [String]
    let log: (String) -> Void
    /// Reference outputs by fidelity data file and limit.
    private var referenceOutputs: [String: Tensor] = [:]

    init(tasks: [EvaluationTask], reference: EvaluatedModel, timing: [String], log: @escaping (String) -> Void) {
        self.tasks = tasks
        self.reference = reference
        self.timing = timing
        self.log = log
    }

    mutating func measure(_ state: CompressionState, name: String, pass: String?, seconds: Double) throws -> StageReport {
        log("measuring \(name)")
        let restore = pass == nil ? nil : packedDecoding(state)
        defer { restore?() }
        var metrics: [String: Double] = [:]
        for task in tasks {
            let values: [String: Double]
            if case .fidelity(let data, let limit) = task {
                let lines = try EvaluationData.inputs(data, limit: limit)
                let key = "\(data)|\(limit.map(String.init) ?? "")"
                if referenceOutputs[key] == nil { referenceOutputs[key] = try reference.outputs(for: lines, file: data) }
                let outputs = try state.model.outputs(for: lines, file: data)
                var compared = try FidelityEvaluation.compare(outputs, referenceOutputs[key]!)
                if state.model.classifier != nil {
                    compared.merge(FidelityEvaluation.classAgreement(outputs, referenceOutputs[key]!)) { _, new in new }
                }
                values = Dictionary(uniqueKeysWithValues: compared.map { ($0.key.rawValue, $0.value) })
            } else {
                values = try task.evaluate(state.model, reference: reference)
            }
            metrics.merge(values) { _, new in new }
        }
        let model = state.model, first = [timing[0]], batch = Array(timing.prefix(32))
        let batch1 = try Measurement.medianMilliseconds(repeats: 5, warmup: 1) { _ = try model.outputs(for: first, file: "latency", batchSize: 1) }
        let batch32 = try Measurement.medianMilliseconds(repeats: 3, warmup: 1) { _ = try model.outputs(for: batch, file: "latency", batchSize: 32) }
        return StageReport(name: name, pass: pass, metrics: metrics, sizeBytes: state.sizeBytes, parameters: state.parameterCount,
                           sparsity: state.linearSparsity, latencyMs: .init(batch1: batch1, batch32: batch32),
                           peakMemoryBytes: Measurement.peakMemoryBytes(), seconds: seconds, training: state.training,
                           flashBytes: state.integerCNN?.flashBytes, ramBytes: state.integerCNN?.ramBytes)
    }

    /// A stage whose Llama matrices are ggml codes (or nanoforge's own int8/int4 codes) is measured on
    /// the packed runtime, as `eval` and `generate` run the output folder by default (`GGMLDecoding`:
    /// llama.cpp's arithmetic; `PackedDecoding`: dequantize-on-the-fly GEMM), so the
    /// report's figures are the deployed engine's. Returns the undo (the next stages and the
    /// writing of the output read the Float32 weights). The baseline stays Float32: it is the
    /// reference every stage is compared with. Codes the runtime cannot take (a shape the model no
    /// longer has) leave the stage on Float32, with a line saying so.
    func packedDecoding(_ state: CompressionState) -> (() -> Void)? {
        guard !state.ggmlQuantized.isEmpty || !state.quantized.isEmpty, let llama = state.model.as(LlamaModel.self),
              llama.fusedDecodingApplies else { return nil }
        do {
            let report = state.ggmlQuantized.isEmpty
                ? try PackedDecoding.install(on: llama, quantized: state.quantized, folder: "the stage's codes")
                : try GGMLDecoding.install(on: llama, codes: state.ggmlQuantized, folder: "the stage's ggml codes")
            log("engine: \(report)")
            return { llama.decodingProjections = LlamaDecodingProjections() }
        } catch {
            log("engine: Float32 (\(error))")
            return nil
        }
    }
}
