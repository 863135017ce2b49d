import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import NanoRuntime
import NanoTensor
@testable import NanoServe

/// Each endpoint against the library it serves: greedy text equal to `LlamaModel.generate`'s,
/// embeddings equal to `RuntimeEncoder`'s, log-probabilities equal to log-softmax of the model's
/// own logits, streams equal to whole replies.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServeEndpointTests {
    static func withServer<T>(_ body: (TestServer, ServedDecoder, ServedEncoder) async throws -> T) async throws -> T {
        try await onTestExecutor {
            let (decoder, encoder) = try ServeFixtures.models()
            let server = try await TestServer.start([.decoder(decoder), .encoder(encoder)])
            do {
                let result = try await body(server, decoder, encoder)
                await server.stop()
                return result
            } catch {
                await server.stop()
                throw error
            }
        }
    }

    /// `generate`'s continuation of `prompt` as text, its tokens, and whether it ended at a stop token.
    static func reference(_ decoder: ServedDecoder, prompt: [Int], maxTokens: Int, sampler: TokenSampler = TokenSampler()) -> (text: String, tokens: [Int], stopped: Bool) {
        var sampler = sampler
        let tokens = decoder.model.generate(prompt: prompt, maxTokens: maxTokens, sampler: &sampler, stopTokens: decoder.stopTokens)
        return (decoder.codec.decode(tokens), tokens, decoder.stopTokens.contains(tokens.last ?? -1))
    }

    @Test func healthAndModelList() async throws {
        try await Self.withServer { server, _, _ in
            let health = try await server.request("GET", "/health")
            #expect(health.status == 200 && health.json["status"]?.string == "ok")
            let models = try await server.request("GET", "/v1/models")
            #expect(models.status == 200)
            #expect(models.json["object"]?.string == "list")
            let ids = models.json["data"]?.array?.compactMap { $0["id"]?.string }
            #expect(ids == ["tiny-llama", "tiny-bert"])
            #expect(models.json["data"]?.array?.allSatisfy { $0["object"]?.string == "model" } == true)
        }
    }

    @Test func embeddingsEqualTheRuntimeEncoders() async throws {
        try await Self.withServer { server, _, encoder in
            let sentences = ["the cat sat on the mat", "a quick brown fox jumps over the lazy dog", "dog", "zebra unknown words"]
            let body = "{\"model\": \"tiny-bert\", \"input\": [" + sentences.map { JSONValue.quote($0) }.joined(separator: ",") + "]}"
            let reply = try await server.post("/v1/embeddings", body)
            #expect(reply.status == 200, "\(reply.text)")
            let data = try #require(reply.json["data"]?.array)
            #expect(data.count == sentences.count)
            let runtime = encoder.encoder
            var tokens = 0
            for (i, sentence) in sentences.enumerated() {
                let ids = runtime.tokenizer.encode(sentence, maxLength: runtime.maxLength)
                tokens += ids.count
                let expected = runtime.embeddings(tokenIds: [ids]).scalars
                let got = try #require(data[i]["embedding"]?.array).map { Float($0.number ?? .nan) }
                // One batch of four fp32 rows: equal to each alone within float rounding
                // (ServeBatchingTests shows bit-equality on the integer kernels).
                #expect(got.count == expected.count && zip(got, expected).allSatisfy { abs($0 - $1) <= 1e-6 }, "sentence \(i)")
                #expect(data[i]["index"]?.int == i && data[i]["object"]?.string == "embedding")
            }
            #expect(reply.json["usage"]?["prompt_tokens"]?.int == tokens && reply.json["usage"]?["total_tokens"]?.int == tokens)
            #expect(reply.json["model"]?.string == "tiny-bert" && reply.json["object"]?.string == "list")

            // base64: little-endian float32, the same values bit for bit.
            let b64 = try await server.post("/v1/embeddings", "{\"model\": \"tiny-bert\", \"input\": \"the cat sat\", \"encoding_format\": \"base64\"}")
            let text = try #require(b64.json["data"]?.array?.first?["embedding"]?.string)
            let bytes = try #require(Data(base64Encoded: text))
            let raw = [UInt8](bytes)
            let floats: [Float] = stride(from: 0, to: raw.count, by: 4).map { (i: Int) -> Float in
                var bits: UInt32 = 0
                for b in 0..<4 { bits |= UInt32(raw[i + b]) << UInt32(8 * b) }
                return Float(bitPattern: bits)
            }
            #expect(floats == runtime.embeddings(tokenIds: [runtime.tokenizer.encode("the cat sat", maxLength: runtime.maxLength)]).scalars)

            // Token ids as given.
            let ids = runtime.tokenizer.encode("quick fox", maxLength: runtime.maxLength)
            let byIDs = try await server.post("/v1/embeddings", "{\"model\": \"tiny-bert\", \"input\": [\(ids.map(String.init).joined(separator: ","))]}")
            #expect(byIDs.json["data"]?.array?.first?["embedding"]?.array?.map { Float($0.number ?? .nan) } == runtime.embeddings(tokenIds: [ids]).scalars)
        }
    }

    @Test func greedyCompletionIsGeneratesText() async throws {
        try await Self.withServer { server, decoder, _ in
            let prompt = "The cat sat on"
            let reply = try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": \"\(prompt)\", \"max_tokens\": 20, \"temperature\": 0}")
            #expect(reply.status == 200, "\(reply.text)")
            let ids = decoder.codec.encode(prompt)
            let expected = Self.reference(decoder, prompt: ids, maxTokens: 20)
            let choice = try #require(reply.json["choices"]?.array?.first)
            #expect(choice["text"]?.string == expected.text)
            #expect(choice["finish_reason"]?.string == (expected.stopped ? "stop" : "length"))
            #expect(choice["index"]?.int == 0 && choice["logprobs"] == .null)
            #expect(reply.json["object"]?.string == "text_completion" && reply.json["model"]?.string == "tiny-llama")
            #expect(reply.json["id"]?.string?.hasPrefix("cmpl-") == true)
            let usage = reply.json["usage"]
            #expect(usage?["prompt_tokens"]?.int == ids.count && usage?["completion_tokens"]?.int == expected.tokens.count)
            #expect(usage?["total_tokens"]?.int == ids.count + expected.tokens.count)

            // Token ids as the prompt, and two prompts in one request: one choice each.
            let two = try await server.post("/v1/completions", "{\"model\": \"tiny-llama\", \"prompt\": [[\(ids.map(String.init).joined(separator: ","))], [65, 66]], \"max_tokens\": 5, \"temperature\": 0}")
            let choices = try #require(two.json["choices"]?.array)
            #expect(choices.count == 2)
            #expect(choices[0]["text"]?.string == Self.reference(decoder, prompt: ids, maxTokens: 5).text)
            #expect(choices[1]["text"]?.string == Self.reference(decoder, prompt: [65, 66], maxTokens: 5).text && choices[1]["index"]?.int == 1)
        }
    }

    @Test func chatUsesTheModelsTemplate() async throws {
        try await Self.withServer { server, decoder, _ in
            let body = "{\"model\": \"tiny-llama\", \"messages\": [{\"role\": \"system\", \"content\": \"Be brief.\"}, {\"role\": \"user\", \"content\": \"Hi there\"}], \"max_tokens\": 16, \"temperature\": 0}"
            let reply = try await server.post("/v1/chat/completions", body)
            #expect(reply.status == 200, "\(reply.text)")
            let prompt = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"
            let ids = decoder.codec.encode(prompt)
            #expect(ids.filter { $0 >= 256 }.count == 5, "specials become single tokens")
            let expected = Self.reference(decoder, prompt: ids, maxTokens: 16)
            let choice = try #require(reply.json["choices"]?.array?.first)
            #expect(choice["message"]?["role"]?.string == "assistant")
            #expect(choice["message"]?["content"]?.string == expected.text)
            #expect(choice["finish_reason"]?.string == (expected.stopped ? "stop" : "length"))
            #expect(reply.json["object"]?.string == "chat.completion" && reply.json["id"]?.string?.hasPrefix("chatcmpl-") == true)
            #expect(reply.json["usage"]?["prompt_tokens"]?.int == ids.count)
            #expect(reply.json["usage"]?["completion_tokens"]?.int == expected.tokens.count)
        }
    }

    @Test func streamsCarryTheWholeReply() async throws {
        try await Self.withServer { server, _, _ in
            let common = "\"model\": \"tiny-llama\", \"max_tokens\": 24, \"temperature\": 0"
            let whole = try await server.post("/v1/completions", "{\(common), \"prompt\": \"Once upon\"}")
            let streamed = try await server.post("/v1/completions", "{\(common), \"prompt\": \"Once upon\", \"stream\": true, \"stream_options\": {\"include_usage\": true}}")
            #expect(streamed.status == 200)
            #expect(streamed.headers["content-type"]?.hasPrefix("text/event-stream") == true)
            let events = streamed.events
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().compactMap { try? JSONParser.parse(Array($0.utf8)) }
            #expect(chunks.count == events.count - 1, "every event but [DONE] is JSON")
            let text = chunks.compactMap { $0["choices"]?.array?.first?["text"]?.string }.joined()
            let wholeChoice = whole.json["choices"]?.array?.first
            #expect(text == wholeChoice?["text"]?.string)
            let finishes = chunks.compactMap { $0["choices"]?.array?.first?["finish_reason"]?.string }
            #expect(finishes == [wholeChoice?["finish_reason"]?.string].compactMap { $0 })
            #expect(chunks.allSatisfy { $0["object"]?.string == "text_completion" })
            // The usage chunk comes last, with no choices.
            #expect(chunks.last?["choices"]?.array?.isEmpty == true)
            #expect(chunks.last?["usage"]?["completion_tokens"] == whole.json["usage"]?["completion_tokens"])

            let chatBody = "{\(common), \"messages\": [{\"role\": \"user\", \"content\": \"Hello\"}]"
            let chatWhole = try await server.post("/v1/chat/completions", chatBody + "}")
            let chatStream = try await server.post("/v1/chat/completions", chatBody + ", \"stream\": true}")
            let chatChunks = chatStream.events.dropLast().compactMap { try? JSONParser.parse(Array($0.utf8)) }
            #expect(chatStream.events.last == "[DONE]")
            #expect(chatChunks.first?["choices"]?.array?.first?["delta"]?["role"]?.string == "assistant")
            #expect(chatChunks.allSatisfy { $0["object"]?.string == "chat.completion.chunk" })
            let content = chatChunks.compactMap { $0["choices"]?.array?.first?["delta"]?["content"]?.string }.joined()
            #expect(content == chatWhole.json["choices"]?.array?.first?["message"]?["content"]?.string)
            #expect(chatChunks.last?["choices"]?.array?.first?["finish_reason"]?.string == chatWhole.json["choices"]?.array?.first?["finish_reason"]?.string)
        }
    }

    /// Log-softmax of the logits of one pass over prompt + completion, row by row.
    static func logSoftmaxRows(_ decoder: ServedDecoder, _ tokens: [Int]) -> [[Double]] {
        let cache = LlamaKVCache(for: decoder.model, capacity: tokens.count)
        let logits = decoder.model.decode(tokens, cache: cache)
        let v = decoder.vocabularySize
        return (0..<tokens.count).map { i in
            let row = logits.scalars[(i * v)..<((i + 1) * v)].map(Double.init)
            let m = row.max()!
            let lse = m + Foundation.log(row.reduce(0) { $0 + Foundation.exp($1 - m) })
            return row.map { $0 - lse }
        }
    }

    @Test func logprobsAreTheModelsOwn() async throws {
        try await Self.withServer { server, decoder, _ in
            let prompt = "Hello world"
            let reply = try await server.post("/v1/completions",
                "{\"model\": \"tiny-llama\", \"prompt\": \"\(prompt)\", \"max_tokens\": 6, \"temperature\": 0, \"logprobs\": 3, \"echo\": true}")
            #expect(reply.status == 200, "\(reply.text)")
            let choice = try #require(reply.json["choices"]?.array?.first)
            let promptIDs = decoder.codec.encode(prompt)
            let completion = Self.reference(decoder, prompt: promptIDs, maxTokens: 6)
            #expect(choice["text"]?.string == prompt + completion.text, "echo repeats the prompt")
            let all = promptIDs + completion.tokens
            let rows = Self.logSoftmaxRows(decoder, all)
            let logprobs = try #require(choice["logprobs"])
            let values = try #require(logprobs["token_logprobs"]?.array)
            let tokenValues = try #require(logprobs["tokens"]?.array)
            let tokens = tokenValues.compactMap(\.string)
            let tops = try #require(logprobs["top_logprobs"]?.array)
            let offsetValues = try #require(logprobs["text_offset"]?.array)
            let offsets = offsetValues.compactMap(\.int)
            #expect(values.count == all.count && tokens.count == all.count && tops.count == all.count && offsets.count == all.count)
            #expect(values[0] == .null && tops[0] == .null, "the first prompt token has no log-probability")
            #expect(tokens == all.map(decoder.codec.tokenText))
            #expect(offsets.first == 0)
            for i in 1..<all.count {
                let value = try #require(values[i].number)
                #expect(abs(value - rows[i - 1][all[i]]) < 1e-4, "position \(i): \(value) vs \(rows[i - 1][all[i]])")
                let top = try #require(tops[i].members)
                #expect(top.count == 3 || Set(top.map(\.key)).count < 3, "three alternatives (fewer keys only when texts collide)")
                let best = rows[i - 1].enumerated().max { $0.element < $1.element }!
                #expect(abs((top.first?.value.number ?? 0) - best.element) < 1e-4)
            }
            // Greedy: each generated token is the most probable one.
            for i in promptIDs.count..<all.count { #expect(abs(values[i].number! - rows[i - 1].max()!) < 1e-4) }

            // Chat's shape: logprobs true + top_logprobs N.
            let chat = try await server.post("/v1/chat/completions",
                "{\"model\": \"tiny-llama\", \"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}], \"max_tokens\": 5, \"temperature\": 0, \"logprobs\": true, \"top_logprobs\": 2}")
            #expect(chat.status == 200, "\(chat.text)")
            let content = try #require(chat.json["choices"]?.array?.first?["logprobs"]?["content"]?.array)
            let chatPrompt = decoder.codec.encode(try decoder.codec.chatPrompt("Hi"))
            let chatCompletion = Self.reference(decoder, prompt: chatPrompt, maxTokens: 5)
            #expect(content.count == chatCompletion.tokens.count)
            let chatRows = Self.logSoftmaxRows(decoder, chatPrompt + chatCompletion.tokens)
            for (k, entry) in content.enumerated() {
                let token = chatCompletion.tokens[k]
                #expect(entry["token"]?.string == decoder.codec.tokenText(token))
                #expect(entry["bytes"]?.array?.compactMap(\.int) == decoder.codec.tokenBytes(token).map(Int.init))
                #expect(abs((entry["logprob"]?.number ?? 0) - chatRows[chatPrompt.count + k - 1][token]) < 1e-4)
                #expect(entry["top_logprobs"]?.array?.count == 2)
            }
        }
    }

    @Test func stopStringsEndTheTextBeforeThem() async throws {
        try await Self.withServer { server, decoder, _ in
            let prompt = "abc"
            let free = Self.reference(decoder, prompt: decoder.codec.encode(prompt), maxTokens: 30)
            let scalars = Array(free.text.unicodeScalars)
            try #require(scalars.count >= 6, "the tiny model's greedy text: \(free.text)")
            // A two-character stop taken from the middle of the free text.
            var stop = String.UnicodeScalarView(); stop.append(contentsOf: scalars[3..<5])
            let stopText = String(stop)
            let expected = String(free.text[..<free.text.range(of: stopText)!.lowerBound])
            let json = "{\"model\": \"tiny-llama\", \"prompt\": \"\(prompt)\", \"max_tokens\": 30, \"temperature\": 0, \"stop\": [\(JSONValue.quote(stopText)), \"never-in-text\"]"
            let whole = try await server.post("/v1/completions", json + "}")
            let choice = try #require(whole.json["choices"]?.array?.first)
            #expect(choice["text"]?.string == expected)
            #expect(choice["finish_reason"]?.string == "stop")
            let streamed = try await server.post("/v1/completions", json + ", \"stream\": true}")
            let text = streamed.events.dropLast().compactMap { try? JSONParser.parse(Array($0.utf8)) }
                .compactMap { $0["choices"]?.array?.first?["text"]?.string }.joined()
            #expect(text == expected, "the stream never shows the stop string")
        }
    }

    @Test func samplingIsSeeded() async throws {
        try await Self.withServer { server, decoder, _ in
            let json = "{\"model\": \"tiny-llama\", \"prompt\": \"xyz\", \"max_tokens\": 12, \"temperature\": 1.0, \"top_p\": 0.9, \"seed\": 5}"
            let first = try await server.post("/v1/completions", json)
            let second = try await server.post("/v1/completions", json)
            let text = first.json["choices"]?.array?.first?["text"]?.string
            #expect(text != nil && text == second.json["choices"]?.array?.first?["text"]?.string)
            let expected = Self.reference(decoder, prompt: decoder.codec.encode("xyz"), maxTokens: 12, sampler: TokenSampler(temperature: 1, topP: 0.9, seed: 5))
            #expect(text == expected.text)
        }
    }
}
