import Foundation
import Testing
import NanoCheckpoint
import NanoModels
import TestSupport

/// Chat templates against transformers' `apply_chat_template` (Fixtures/tokenizers/chat.json).
@Suite struct ChatTemplateTests {
    @Test(.enabled(if: BPEGoldenFixtures.hasSmolLM2, BPEGoldenFixtures.missingSmolLM2Comment))
    func rendersLikeTransformers() throws {
        let tokenizer = try BPEGoldenFixtures.smolLM2.get()
        let golden = try BPEGoldenFixtures.json("chat.json")
        let chatML = try ChatTemplate(template: golden["chatml_template"]!.string!, file: "chat.json")
        #expect(chatML == .chatML(defaultSystem: nil))
        // Line breaks inside the literals may be written raw, as SmolLM2's GGUF does.
        let raw = golden["chatml_template"]!.string!.replacingOccurrences(of: "\\n", with: "\n")
        #expect(raw != golden["chatml_template"]!.string!)
        #expect(try ChatTemplate(template: raw, file: "chat.json") == .chatML(defaultSystem: nil))
        #expect(try tokenizer.chatTemplate() == .chatML(defaultSystem: "You are a helpful AI assistant named SmolLM, trained by Hugging Face"))
        let cases = golden["cases"]!.array!
        #expect(cases.count == 16)
        for c in cases {
            let messages = c["messages"]!.array!.map { ChatMessage(role: $0["role"]!.string!, content: $0["content"]!.string!) }
            let generation = c["add_generation_prompt"]!.bool!
            let text = c["template"]!.string! == "smollm2"
                ? try tokenizer.applyChatTemplate(messages, addGenerationPrompt: generation)
                : chatML.render(messages, addGenerationPrompt: generation)
            #expect(text == c["text"]!.string!)
            #expect(tokenizer.encode(text, allowSpecial: true) == BPEGoldenFixtures.intArray(c["ids"]))
        }
    }

    @Test func unknownTemplateIsRefused() {
        let llama3 = "{% set loop_messages = messages %}{% for message in loop_messages %}{{ '<|start_header_id|>' }}{% endfor %}"
        #expect(throws: BPETokenizerError.self) { try ChatTemplate(template: llama3, file: "model.gguf") }
        do {
            _ = try ChatTemplate(template: llama3, file: "model.gguf")
        } catch {
            #expect("\(error)".hasPrefix("model.gguf: unsupported chat template"))
        }
        // A default system prompt with an unescaped quote is not SmolLM2's shape.
        let broken = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\nIt's<|im_end|>\\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
        #expect(throws: BPETokenizerError.self) { try ChatTemplate(template: broken, file: "x") }
    }
}
