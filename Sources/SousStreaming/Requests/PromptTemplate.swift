/// A chat message for prompt templates.
public struct ChatMessage: Sendable, Equatable, Codable {
    /// Who wrote the message.
    public enum Role: String, Sendable, Equatable, Codable, CaseIterable {
        case system, user, assistant
    }

    public var role: Role
    public var content: String

    public init(role: Role, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: .system, content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: .user, content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: .assistant, content: content) }
}

/// Chat prompt formats.
public enum PromptTemplate: String, CaseIterable, Sendable {
    /// Llama 2 chat, rendered exactly like the notebooks' `build_llama2_prompt`:
    /// `<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{user} [/INST]`, with earlier assistant turns as
    /// ` [/INST] {answer} </s><s>[INST] `.
    case llama2Chat = "llama-2-chat"
    /// ChatML (`<|im_start|>role\ncontent<|im_end|>\n`), ending with an open assistant turn (SmolLM2, Qwen).
    case chatml
    /// Zephyr (`<|user|>\ncontent</s>\n`), ending with `<|assistant|>\n` (TinyLlama-Chat).
    case zephyr
    /// No formatting: the message contents joined by newlines.
    case raw

    /// Renders `messages` into a prompt string ready for generation.
    public func render(_ messages: [ChatMessage]) -> String {
        switch self {
        case .llama2Chat:
            // build_llama2_prompt: a system message only counts at index 0; user content is stripped;
            // anything else (assistant, or a later system message) closes the instruction.
            var parts = ""
            for (index, m) in messages.enumerated() {
                if m.role == .system && index == 0 {
                    parts += "<<SYS>>\n\(m.content)\n<</SYS>>\n\n"
                } else if m.role == .user {
                    parts += PromptTemplate.pythonStrip(m.content)
                } else {
                    parts += " [/INST] \(PromptTemplate.pythonStrip(m.content)) </s><s>[INST] "
                }
            }
            return "<s>[INST] " + parts + " [/INST]"
        case .chatml:
            var out = ""
            for m in messages { out += "<|im_start|>\(m.role.rawValue)\n\(m.content)<|im_end|>\n" }
            return out + "<|im_start|>assistant\n"
        case .zephyr:
            var out = ""
            for m in messages { out += "<|\(m.role.rawValue)|>\n\(m.content)</s>\n" }
            return out + "<|assistant|>\n"
        case .raw:
            return messages.map(\.content).joined(separator: "\n")
        }
    }

    /// Stop sequences that end an assistant turn in this format.
    public var stopSequences: [String] {
        switch self {
        case .llama2Chat, .zephyr: return ["</s>"]
        case .chatml: return ["<|im_end|>"]
        case .raw: return []
        }
    }

    /// Python's `str.strip()`: trims Unicode whitespace (and the \x1c–\x1f separators) at both ends.
    static func pythonStrip(_ s: String) -> String {
        func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1c...0x1f).contains(c.value) }
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return String(scalars[first...last])
    }
}
