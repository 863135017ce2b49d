/// One message of a chat conversation.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A chat template nanoforge recognises and renders natively. nanoforge does not interpret Jinja:
/// it compares a file's template with the shapes it knows and refuses any other with
/// `BPETokenizerError.unsupportedChatTemplate`, so a conversation is never rendered differently
/// from transformers' `apply_chat_template`.
public enum ChatTemplate: Sendable, Equatable {
    /// ChatML (`<|im_start|>role\ncontent<|im_end|>\n` per message), as SmolLM2 and Qwen write it.
    /// With `defaultSystem`, a conversation that does not open with a system message gets one
    /// (SmolLM2: "You are a helpful AI assistant named SmolLM, trained by Hugging Face").
    case chatML(defaultSystem: String?)

    private static let chatMLBody =
        "{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
        "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
    private static let loop = "{% for message in messages %}"
    private static let systemOpen = "{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
    private static let systemClose = "<|im_end|>\\n' }}{% endif %}"

    /// Recognises `template` (a Jinja source, verbatim); `file` names its origin in errors.
    public init(template: String, file: String) throws {
        let t = Self.escapingNewlinesInLiterals(template.trimmingWhitespace())
        if t == Self.loop + Self.chatMLBody {
            self = .chatML(defaultSystem: nil)
            return
        }
        // SmolLM2's: the ChatML loop with a default system prompt, written as a Jinja string literal.
        if t.hasPrefix(Self.loop + Self.systemOpen), t.hasSuffix(Self.systemClose + Self.chatMLBody) {
            let start = t.index(t.startIndex, offsetBy: (Self.loop + Self.systemOpen).count)
            let end = t.index(t.endIndex, offsetBy: -(Self.systemClose + Self.chatMLBody).count)
            if start <= end, let prompt = Self.unescapeJinjaSingleQuoted(String(t[start..<end])) {
                self = .chatML(defaultSystem: prompt)
                return
            }
        }
        throw BPETokenizerError.unsupportedChatTemplate(
            file: file, reason: "nanoforge renders ChatML templates (SmolLM2's, Qwen's plain one) only; this one begins '\(t.prefix(80))'")
    }

    /// The prompt text for `messages`; `addGenerationPrompt` opens the assistant's turn.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) -> String {
        switch self {
        case .chatML(let defaultSystem):
            var out = ""
            if let defaultSystem, let first = messages.first, first.role != "system" {
                out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n"
            }
            for m in messages { out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
            return out
        }
    }

    /// `template` with raw line breaks inside single-quoted literals written as `\n`: files spell
    /// them either way (SmolLM2's GGUF raw, tokenizer_config.json files usually escaped).
    static func escapingNewlinesInLiterals(_ template: String) -> String {
        var out = "", inLiteral = false, escaped = false
        for c in template {
            if inLiteral && c == "\n" { out += "\\n"; continue }
            if inLiteral && escaped { escaped = false } else if inLiteral && c == "\\" { escaped = true } else if c == "'" { inLiteral.toggle() }
            out.append(c)
        }
        return out
    }

    /// The text of a Jinja single-quoted string body (`\n`, `\t`, `\\`, `\'`); nil when it holds an
    /// unescaped quote (the template would then be something else).
    static func unescapeJinjaSingleQuoted(_ body: String) -> String? {
        var out = "", escaped = false
        for c in body {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\", "'", "\"": out.append(c)
                default: return nil
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "'" {
                return nil
            } else {
                out.append(c)
            }
        }
        return escaped ? nil : out
    }
}

extension ByteLevelBPETokenizer {
    /// The chat template the file carries, recognised (see `ChatTemplate`); nil when it has none.
    public func chatTemplate() throws -> ChatTemplate? {
        try chatTemplateSource.map { try ChatTemplate(template: $0, file: source) }
    }

    /// `messages` rendered with the file's chat template, as transformers' `apply_chat_template(…,
    /// tokenize=False)`. Encode the result with `allowSpecial: true` so role markers become single tokens.
    public func applyChatTemplate(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        guard let template = try chatTemplate() else {
            throw BPETokenizerError.missingField(file: source, field: "chat_template")
        }
        return template.render(messages, addGenerationPrompt: addGenerationPrompt)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
              let last = scalars.lastIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        return String(scalars[first...last])
    }
}
