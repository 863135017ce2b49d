import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoRuntime
import NanoTensor

/// `nanoforge embed`: sentence embeddings from a BERT-style sentence encoder.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Embed sentences (one per line) with a sentence encoder such as all-MiniLM-L6-v2.",
        discussion: "Writes one F32 tensor named `embeddings` of shape [N, dim] to a safetensors file.")

    @Argument(help: "Model folder (config.json, vocab.txt, weights) or a weights file with config.json and vocab.txt beside it.")
    var model: String

    @Option(help: "Text file, one sentence per line (empty lines are skipped).")
    var input: String

    @Option(help: "Output safetensors file.")
    var output: String

    @Option(help: "Sentences per forward pass.")
    var batchSize = 32

    @Option(help: "Maximum tokens per sentence, [CLS] and [SEP] included.")
    var maxLength = 256

    @Option(help: EngineOption.help)
    var engine: EngineOption = .auto

    @Option(help: RuntimeKernel.help)
    var kernel: RuntimeKernel = .standard

    func validate() throws {
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive, got \(batchSize)") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2, got \(maxLength)") }
    }

    func run() throws {
        try CLIErrors.reporting {
            let encoder = try EvaluationTask.sentenceEncoder(try engine.load(model, maxLength: maxLength, kernel: kernel), task: "embed")
            guard let data = FileManager.default.contents(atPath: input), let text = String(data: data, encoding: .utf8) else {
                throw CLIErrors.BadInput("\(input): cannot read as UTF-8 text")
            }
            let sentences = text.split(whereSeparator: \.isNewline).map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            let progress = ProgressLine(label: "embedding", total: sentences.count)
            let embeddings = encoder.encode(sentences, batchSize: batchSize) { done, _ in progress.update(done) }
            progress.finish()
            var metadata = ["nanoforge.source_model": model, "nanoforge.sentences": String(sentences.count)]
            if let note = kernel.approximationNote { metadata["nanoforge.kernel"] = note }
            let store = TensorStore(tensors: [StoredTensor.encoding(embeddings, name: "embeddings")], metadata: metadata)
            try SafetensorsWriter.write(store, to: output)
            print("wrote \(output): embeddings [\(embeddings.shape.map(String.init).joined(separator: ", "))]"
                  + (kernel.approximates ? " with the approximate \(kernel.rawValue) kernel" : ""))
        }
    }
}
