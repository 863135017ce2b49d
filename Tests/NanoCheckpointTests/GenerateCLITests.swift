import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoTensor
import TestSupport

/// `nanoforge generate` end to end: the tiny Llama fixture (ids in, ids out), and SmolLM2 from its
/// GGUF with its own tokenizer and chat template against transformers' greedy continuation.
@Suite struct GenerateCLITests {
    @Test func tinyModelGreedyIDsMatchTheLibrary() throws {
        let folder = RepositoryPaths.fixture("models/tiny-llama")
        let result = try CommandRunner.nanoforge(["generate", folder, "--prompt-ids", "3,14,15,92,65", "--max-tokens", "10", "--ignore-eos"])
        #expect(result.status == 0, "\(result.stderr)")
        let model = try ModelLoader.load(path: folder, as: LlamaModel.self)
        var sampler = TokenSampler()
        let expected = model.generate(prompt: [3, 14, 15, 92, 65], maxTokens: 10, sampler: &sampler)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == expected.map(String.init).joined(separator: ","))
        #expect(result.stderr.contains("tokens/s"))
    }

    @Test func badArgumentsAreClearErrors() throws {
        let folder = RepositoryPaths.fixture("models/tiny-llama")
        let noTokenizer = try CommandRunner.nanoforge(["generate", folder, "--prompt", "hello"])
        #expect(noTokenizer.status == 2)
        #expect(noTokenizer.stderr.contains("no tokenizer for --prompt"), "\(noTokenizer.stderr)")
        let outside = try CommandRunner.nanoforge(["generate", folder, "--prompt-ids", "1,256"])
        #expect(outside.status == 2 && outside.stderr.contains("token id 256 is outside the vocabulary"), "\(outside.stderr)")
        let tooLong = try CommandRunner.nanoforge(["generate", folder, "--prompt-ids", "1,2", "--max-tokens", "63"])
        #expect(tooLong.status == 2 && tooLong.stderr.contains("exceed the context of 64"), "\(tooLong.stderr)")
        let malformed = try CommandRunner.nanoforge(["generate", folder, "--prompt-ids", "1,x"])
        #expect(malformed.status != 0 && malformed.stderr.contains("--prompt-ids"), "\(malformed.stderr)")
        let both = try CommandRunner.nanoforge(["generate", folder, "--prompt-ids", "1", "--prompt", "a"])
        #expect(both.status != 0 && both.stderr.contains("exactly one of --prompt and --prompt-ids"))
    }

    /// The chat prompt, tokenized by nanoforge, continues exactly as transformers' greedy decoding
    /// on the dense engine (Float32 arithmetic, as transformers computes; the default packed engine
    /// rounds activations as llama.cpp does, and on this prompt answers as llama.cpp does).
    @Test(.enabled(if: SmolLM2Fixture.available, SmolLM2Fixture.skipReason))
    func smolLM2ChatPromptMatchesTransformers() throws {
        let golden = try SafetensorsReader.read(path: SmolLM2Fixture.goldenPath)
        let length = Int(golden["prompt_lengths"]!.integers()[0])
        let promptIDs = golden["prompt_ids"]!.integers().prefix(length).map(Int.init)
        let greedy = golden["greedy"]!.integers().prefix(64).map(Int.init)
        let ids = try CommandRunner.nanoforge(["generate", SmolLM2Fixture.path, "--prompt", "What is the capital of France?", "--chat",
                                               "--max-tokens", "64", "--ignore-eos", "--ids", "--engine", "dense"])
        #expect(ids.status == 0, "\(ids.stderr)")
        #expect(ids.stderr.contains("prompt: \(promptIDs.count) tokens"), "\(ids.stderr)")
        #expect(ids.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == greedy.map(String.init).joined(separator: ","))
        // As text, stopping at the end-of-sequence token.
        let text = try CommandRunner.nanoforge(["generate", SmolLM2Fixture.path, "--prompt", "What is the capital of France?", "--chat", "--engine", "dense"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout == "The capital of France is Paris.\n", "\(text.stdout)")
    }
}
