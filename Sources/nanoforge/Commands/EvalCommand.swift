import ArgumentParser
import Foundation
import NanoForge
import NanoModels
import NanoRuntime

/// `nanoforge eval`: one evaluation task on one model.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a sentence encoder (a model folder, e.g. a compress output) on one task and print the metrics.")

    enum Task: String, ExpressibleByArgument, CaseIterable { case fidelity, retrieval, classification, similarity }

    @Argument(help: "Model folder (config.json, vocab.txt, weights).")
    var model: String

    @Option(help: "Task: \(Task.allCases.map(\.rawValue).joined(separator: ", ")).")
    var task: Task

    @Option(help: "Data file: sentences (fidelity), query<TAB>target (retrieval), label<TAB>text (classification test set), a<TAB>b<TAB>score (similarity).")
    var data: String

    @Option(help: "Training file for classification (label<TAB>text).")
    var train: String?

    @Option(help: "Reference model folder for fidelity.")
    var reference: String?

    @Option(help: "Use only the first N lines of the data.")
    var limit: Int?

    @Option(help: EngineOption.help)
    var engine: EngineOption = .auto

    @Option(help: RuntimeKernel.help)
    var kernel: RuntimeKernel = .standard

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        try CLIErrors.reporting {
            let encoded = try engine.load(model, kernel: kernel)
            let evaluation: EvaluationTask
            var referenceModel: EvaluatedModel? = nil
            switch task {
            case .fidelity:
                guard let reference else { throw CLIErrors.BadInput("--task fidelity needs --reference MODEL") }
                referenceModel = try engine.load(reference)
                evaluation = .fidelity(data: data, limit: limit)
            case .retrieval: evaluation = .retrieval(data: data, limit: limit)
            case .classification:
                guard let train else { throw CLIErrors.BadInput("--task classification needs --train FILE") }
                evaluation = .classification(train: train, test: data)
            case .similarity: evaluation = .similarity(data: data)
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
