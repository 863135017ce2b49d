import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoRuntime

/// `nanoforge eval`: one evaluation task on one model.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a model (a folder, e.g. a compress output) on one task and print the metrics.",
        discussion: "perplexity and kl_divergence follow llama.cpp's llama-perplexity: the file is tokenized once, cut into chunks of --context tokens, and each chunk's second half is scored; kl_divergence compares with --reference (KL(reference ‖ model) mean, median, p99, max, same top token, Δ perplexity; a trimmed vocabulary is matched to the reference's by token string, and kl_rest_mass is the reference's mass on the tokens it lacks). A character-level decoder's perplexity without --context keeps nanoforge's earlier every-character windows.")

    enum Task: String, ExpressibleByArgument, CaseIterable {
        case fidelity, retrieval, classification, similarity, perplexity
        case klDivergence = "kl_divergence"

        /// Tasks on language models, whose models load as decoders rather than sentence encoders.
        var isLanguageModelTask: Bool { self == .perplexity || self == .klDivergence }
    }

    @Argument(help: "Model folder (config.json, vocab.txt, weights).")
    var model: String

    @Option(help: "Task: \(Task.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: Task

    @Option(help: "Data file: sentences (fidelity), query<TAB>target (retrieval), label<TAB>text (classification test set), a<TAB>b<TAB>score (similarity), plain text (perplexity, kl_divergence).")
    var data: String

    @Option(help: "Training file for classification (label<TAB>text).")
    var train: String?

    @Option(help: "Reference model folder for fidelity and kl_divergence.")
    var reference: String?

    @Option(help: "Use only the first N lines of the data (perplexity with --context, kl_divergence: the first N chunks).")
    var limit: Int?

    @Option(help: "perplexity, kl_divergence: tokens a chunk (llama.cpp's -c; default min(512, the model's context length)).")
    var context: Int?

    @Option(help: EngineOption.help)
    var engine: EngineOption = .auto

    @Option(help: RuntimeKernel.help)
    var kernel: RuntimeKernel = .standard

    @Flag(help: "perplexity, kl_divergence: round each quantized matrix's input as llama.cpp's CPU backend does (Q8_0 blocks for Q4_0…Q8_0 and IQ4_NL, Q8_K for K-quants, F16 for F16), so the figure is llama-perplexity's up to summation order; its F16 key/value cache is not modelled.")
    var llamaCppArithmetic = false

    @Flag(help: "Print JSON.")
    var json = false

    /// Whether the model at `path` is a classifier family (class logits of feature rows, as the
    /// MLP and Keras graph families), judged from its config: a config.json beside it, or a Keras
    /// `.h5` file's own model_config. Classifiers run on the fp32 engine.
    static func isClassifier(_ path: String) -> Bool {
        guard let (weights, config) = try? ModelLoader.locateWeights(path) else { return false }
        if let config { return (try? ModelLoader.readConfig(config))?.tasks.contains(.classLogits) ?? false }
        guard weights.hasSuffix(".h5") || weights.hasSuffix(".hdf5"), let store = try? CheckpointReader.read(path: weights),
              let spec = try? ModelLoader.spec(of: store, configPath: nil) else { return false }
        return spec.tasks.contains(.classLogits)
    }

    func run() throws {
        try CLIErrors.reporting {
            if context != nil && !task.isLanguageModelTask { throw CLIErrors.BadInput("--context applies to perplexity and kl_divergence only") }
            if llamaCppArithmetic && !task.isLanguageModelTask { throw CLIErrors.BadInput("--llama-cpp-arithmetic applies to perplexity and kl_divergence only") }
            func load(_ path: String) throws -> EvaluatedModel {
                if task == .classification && Self.isClassifier(path) { return try EvaluatedModel.load(path: path, recipe: path).model }
                guard task.isLanguageModelTask else { return try engine.load(path, kernel: kernel) }
                if !llamaCppArithmetic, engine != .dense, try ModelLoader.isGGUF(path) {
                    // A GGUF file loads as `generate` loads it: lean, its block-coded matrices packed.
                    let (llama, report) = try GGMLDecodingOption.load(path: path, engine: engine)
                    if let report, !json { print("\(path): \(report)") }
                    return try EvaluatedModel.llamaDecoder(llama, path: path)
                }
                let loaded = try EvaluatedModel.load(path: path, recipe: path)
                if llamaCppArithmetic, let container = loaded.model.model?.container {
                    let types = try LlamaCppArithmetic.weightTypes(modelPath: path, layerTypes: loaded.ggmlQuantized.mapValues(\.type))
                    let summary = LlamaCppArithmetic.install(on: container, weightTypes: types)
                    if !json { print("\(path): llama.cpp's input rounding (\(summary))") }
                } else if let llama = loaded.model.model?.container as? LlamaModel,
                          let report = try GGMLDecodingOption.install(on: llama, path: path, codes: loaded.ggmlQuantized, quantized: loaded.quantized, engine: engine) {
                    if !json { print("\(path): \(report)") }
                }
                return loaded.model
            }
            let encoded = try load(model)
            let evaluation: EvaluationTask
            var referenceModel: EvaluatedModel? = nil
            switch task {
            case .fidelity:
                guard let reference else { throw CLIErrors.BadInput("--task fidelity needs --reference MODEL") }
                referenceModel = try load(reference)
                evaluation = .fidelity(data: data, limit: limit)
            case .retrieval: evaluation = .retrieval(data: data, limit: limit)
            case .classification:
                guard let train else { throw CLIErrors.BadInput("--task classification needs --train FILE") }
                evaluation = .classification(train: train, test: data)
            case .similarity: evaluation = .similarity(data: data)
            case .perplexity: evaluation = .perplexity(data: data, limit: limit, context: context)
            case .klDivergence:
                guard let reference else { throw CLIErrors.BadInput("--task kl_divergence needs --reference MODEL") }
                referenceModel = try load(reference)
                evaluation = .klDivergence(data: data, limit: limit, context: context)
            }
            for path in [data, train, reference].compactMap({ $0 }) where !FileManager.default.fileExists(atPath: path) {
                throw CLIErrors.BadInput("\(path): no such file")
            }
            let metrics = try evaluation.evaluate(encoded, reference: referenceModel)
            if json {
                let data = try JSONSerialization.data(withJSONObject: metrics, options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { print("\(k): \(String(format: "%.4f", v))") }
                if let note = kernel.approximationNote { print(note) }
            }
        }
    }
}
