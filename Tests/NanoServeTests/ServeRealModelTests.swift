import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoRuntime
import TestSupport
@testable import NanoServe

/// The models set-up puts in .cache: SmolLM2-135M-Instruct (Q4_1 GGUF, packed runtime, its own
/// chat template) and all-MiniLM-L6-v2, served as `nanoforge serve` serves them.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServeRealModelTests {
    static let smolLM2 = RepositoryPaths.cache("models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf")
    static let miniLM = RepositoryPaths.cache("models/all-MiniLM-L6-v2")
    static var available: Bool {
        FileManager.default.fileExists(atPath: smolLM2) && FileManager.default.fileExists(atPath: miniLM + "/config.json")
    }

    @Test(.enabled(if: available, "needs SmolLM2-135M-Instruct.Q4_1.gguf and all-MiniLM-L6-v2 in .cache (scripts/setup.sh)"))
    func smolLM2AndMiniLMBehindOneServer() async throws { try await onTestExecutor {
        let (smolName, smolPath) = try ServedModel.parseArgument(Self.smolLM2)
        let (miniName, miniPath) = try ServedModel.parseArgument(Self.miniLM)
        #expect(smolName == "SmolLM2-135M-Instruct.Q4_1" && miniName == "all-MiniLM-L6-v2")
        let decoderModel = try ServedModel.load(name: "smol", path: smolPath)
        let encoderModel = try ServedModel.load(name: miniName, path: miniPath)
        guard case .decoder(let decoder) = decoderModel, case .encoder(let encoder) = encoderModel else {
            Issue.record("loaded as the wrong kinds"); return
        }
        let server = try await TestServer.start([decoderModel, encoderModel])

        // The chat answer: the same engine's greedy continuation of the chat prompt, in-process, up to
        // its end-of-turn token. (The packed runtime computes llama.cpp's arithmetic, activations
        // rounded to Q8_1 blocks; on this prompt that turns the first token from transformers'
        // "The" to "L", as llama.cpp's own llama-simple does, so transformers' text is
        // GenerateCLITests' check of the dense engine.)
        var sampler = TokenSampler(temperature: 0, topP: 1, seed: 0)
        let greedy = decoder.model.generate(prompt: decoder.codec.encode(try decoder.codec.chatPrompt("What is the capital of France?")),
                                            maxTokens: 64, sampler: &sampler, stopTokens: decoder.stopTokens)
        let expected = decoder.codec.decode(greedy.filter { !decoder.stopTokens.contains($0) })
        let chat = try await server.post("/v1/chat/completions",
            "{\"model\": \"smol\", \"messages\": [{\"role\": \"user\", \"content\": \"What is the capital of France?\"}], \"max_tokens\": 64, \"temperature\": 0}")
        #expect(chat.status == 200, "\(chat.text)")
        let choice = chat.json["choices"]?.array?.first
        #expect(!expected.isEmpty && choice?["message"]?["content"]?.string == expected, "\(chat.text) vs \(expected)")
        #expect(choice?["finish_reason"]?.string == (greedy.last.map(decoder.stopTokens.contains) == true ? "stop" : "length"))

        // Prompt log-probabilities (echo, max_tokens 0), as a distillation teacher is asked for them,
        // against one pass of the model over the prompt.
        let prompt = "The quick brown fox jumps over the lazy dog."
        let echo = try await server.post("/v1/completions",
            "{\"model\": \"smol\", \"prompt\": \"\(prompt)\", \"max_tokens\": 0, \"echo\": true, \"logprobs\": 2}")
        #expect(echo.status == 200, "\(echo.text)")
        let values = echo.json["choices"]?.array?.first?["logprobs"]?["token_logprobs"]?.array ?? []
        let ids = decoder.codec.encode(prompt)
        #expect(values.count == ids.count && values.first == .null)
        let rows = ServeEndpointTests.logSoftmaxRows(decoder, ids)
        for i in 1..<min(values.count, ids.count) {
            #expect(abs((values[i].number ?? 0) - rows[i - 1][ids[i]]) < 1e-3, "token \(i)")
        }

        let sentences = ["A man is playing a guitar.", "The new movie is awesome", "Bonjour"]
        let body = "{\"model\": \"all-MiniLM-L6-v2\", \"input\": [" + sentences.map { JSONValue.quote($0) }.joined(separator: ",") + "]}"
        let embeddings = try await server.post("/v1/embeddings", body)
        #expect(embeddings.status == 200, "\(embeddings.text)")
        let data = embeddings.json["data"]?.array ?? []
        #expect(data.count == 3)
        let runtime = encoder.encoder
        for (i, s) in sentences.enumerated() {
            let alone = runtime.embeddings(tokenIds: [runtime.tokenizer.encode(s, maxLength: runtime.maxLength)]).scalars
            let got = data[i]["embedding"]?.array?.map { Float($0.number ?? .nan) } ?? []
            #expect(got.count == 384 && zip(got, alone).allSatisfy { abs($0 - $1) <= 1e-6 }, "sentence \(i)")
        }
        await server.stop()
    } }
}
