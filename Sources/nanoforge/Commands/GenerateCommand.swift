import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels
import NanoQuant
import NanoRuntime
import NanoTensor

/// `nanoforge generate`: continues a prompt with a Llama-family model through its KV cache.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a Llama-family language model (GGUF, or config.json + safetensors).",
        discussion: """
            Greedy when --temperature is 0 (the default), otherwise sampled from softmax(logits / T) within the \
            top-p nucleus, from --seed. Stops after --max-tokens or at the model's end-of-sequence token \
            (unless --ignore-eos). Timings go to stderr.
            """)

    @Argument(help: "A GGUF file, a folder with config.json and model.safetensors, or a nanoforge compress output folder.")
    var model: String

    @Option(help: "The prompt text (needs the model's tokenizer).")
    var prompt: String?

    @Option(name: .customLong("prompt-ids"), help: "The prompt as comma-separated token ids, e.g. 1,2,3.")
    var promptIDs: String?

    @Option(help: "The most new tokens to generate.")
    var maxTokens = 64

    @Option(help: "Sampling temperature; 0 picks the most probable token.")
    var temperature: Float = 0

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the most probable tokens up to this cumulative probability.")
    var topP: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Flag(name: .customLong("ignore-eos"), help: "Keep generating past the end-of-sequence token.")
    var ignoreEOS = false

    @Flag(help: "Print token ids instead of text.")
    var ids = false

    @Flag(help: "Wrap --prompt in the model's chat template as the user's turn.")
    var chat = false

    @Option(help: "Engine: auto (a GGUF file's quantized matrices decode on their packed ggml blocks, llama.cpp's arithmetic; a compressed folder's int8/int4 codes on the dequantize-on-the-fly GEMM), runtime (the same, required), dense (Float32 weights dequantized at load).")
    var engine: EngineOption = .auto

    func validate() throws {
        guard (prompt == nil) != (promptIDs == nil) else { throw ValidationError("give exactly one of --prompt and --prompt-ids") }
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be positive, got \(maxTokens)") }
        guard temperature >= 0 && temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0, got \(temperature)") }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must lie in (0, 1], got \(topP)") }
        if let promptIDs { _ = try Self.parseIDs(promptIDs) }
        if chat && prompt == nil { throw ValidationError("--chat applies to --prompt text") }
    }

    static func parseIDs(_ text: String) throws -> [Int] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.map { Int($0) }
        guard !parts.isEmpty, values.allSatisfy({ $0 != nil && $0! >= 0 }) else {
            throw ValidationError("--prompt-ids must be comma-separated non-negative integers, got '\(text)'")
        }
        return values.map { $0! }
    }

    func run() throws {
        try CLIErrors.reporting {
            let loadStart = Date()
            // Packed or not: a `nanoforge compress` output folder loads as its source did.
            let (llama, report) = try GGMLDecodingOption.load(path: model, engine: engine)
            if let report { Self.log("engine: \(report)") }
            let c = llama.configuration
            let tokenizer: (any TokenCodec)?
            do { tokenizer = try GenerationTokenizer.load(model: model) } catch let e as BPETokenizerError { throw CLIErrors.BadInput(e.description) }
            let promptTokens: [Int]
            if let promptIDs {
                promptTokens = try Self.parseIDs(promptIDs)
            } else if let tokenizer {
                promptTokens = tokenizer.encode(chat ? try tokenizer.chatPrompt(prompt ?? "") : prompt ?? "")
            } else {
                throw CLIErrors.BadInput("\(model): no tokenizer for --prompt is available; give the prompt as --prompt-ids")
            }
            guard !promptTokens.isEmpty else { throw CLIErrors.BadInput("the prompt has no tokens") }
            if let bad = promptTokens.first(where: { $0 >= c.vocabularySize }) {
                throw CLIErrors.BadInput("prompt token id \(bad) is outside the vocabulary (\(c.vocabularySize) tokens)")
            }
            guard promptTokens.count + maxTokens <= c.contextLength else {
                throw CLIErrors.BadInput("\(promptTokens.count) prompt tokens + \(maxTokens) new ones exceed the context of \(c.contextLength)")
            }
            let stops = ignoreEOS ? [] : try ModelLoader.endOfSequenceTokens(path: model).union([tokenizer?.endOfSequence].compactMap { $0 })
            Self.log(String(format: "loaded %@ (%d layers, width %d, vocabulary %d) in %.1f s",
                            model, c.layers, c.width, c.vocabularySize, Date().timeIntervalSince(loadStart)))

            let printer = StreamPrinter(tokenizer: ids ? nil : tokenizer)
            var sampler = TokenSampler(temperature: temperature, topP: topP, seed: seed)
            let start = Date()
            var firstToken: Date?
            let generated = llama.generate(prompt: promptTokens, maxTokens: maxTokens, sampler: &sampler, stopTokens: stops) { token in
                if firstToken == nil { firstToken = Date() }
                printer.append(token)
            }
            printer.finish()
            let end = Date()
            let prefill = (firstToken ?? end).timeIntervalSince(start)
            let decode = end.timeIntervalSince(firstToken ?? end)
            Self.log(String(format: "prompt: %d tokens in %.3f s (%.1f tokens/s); generated %d tokens, %.1f tokens/s after the first",
                            promptTokens.count, prefill, Double(promptTokens.count) / max(prefill, 1e-9), generated.count,
                            Double(max(generated.count - 1, 0)) / max(decode, 1e-9)))
        }
    }

    static func log(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}

/// Writes generated tokens to stdout as they come: text through the tokenizer (decoding the whole
/// continuation each time and printing what is new, so multi-byte characters split across tokens
/// come out whole), or ids separated by commas.
final class StreamPrinter {
    private var detokenizer: IncrementalDetokenizer?
    private var count = 0

    init(tokenizer: (any TokenCodec)?) { detokenizer = tokenizer.map { IncrementalDetokenizer(codec: $0) } }

    func append(_ token: Int) {
        count += 1
        if detokenizer != nil {
            write(detokenizer!.append(token))
        } else {
            write(count == 1 ? "\(token)" : ",\(token)")
        }
    }

    func finish() {
        if detokenizer != nil { write(detokenizer!.finish()) }
        write("\n")
    }

    private func write(_ s: String) {
        guard !s.isEmpty else { return }
        FileHandle.standardOutput.write(Data(s.utf8))
    }
}
