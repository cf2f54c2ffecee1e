import SousStreaming
import Testing

@Suite("Prompt templates")
struct PromptTemplateTests {
    /// The notebooks' get_instructions: a triple-quoted system block (leading newline, indents, trailing space).
    static let system = "\n    You are Mr.MightyMark, an email marketing agent at AnyCompany.\n    Be personal.\n     "
    static let ask = "\n  Write a launch email for AnyCloud Internet Service to Alice Smith.  \n"

    @Test("llama-2-chat matches build_llama2_prompt for one system + user turn")
    func llama2SingleTurn() {
        let prompt = PromptTemplate.llama2Chat.render([.system(Self.system), .user(Self.ask)])
        #expect(
            prompt
                == "<s>[INST] <<SYS>>\n\n    You are Mr.MightyMark, an email marketing agent at AnyCompany.\n    Be personal.\n     \n<</SYS>>\n\nWrite a launch email for AnyCloud Internet Service to Alice Smith. [/INST]"
        )
        #expect(PromptTemplate.llama2Chat.render([.system("S"), .user("U")]) == "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nU [/INST]")
    }

    @Test("llama-2-chat multi-turn and the notebook quirks")
    func llama2MultiTurn() {
        let t = PromptTemplate.llama2Chat
        #expect(
            t.render([.system("sys"), .user(" u1 "), .assistant(" a1\n"), .user("u2")])
                == "<s>[INST] <<SYS>>\nsys\n<</SYS>>\n\nu1 [/INST] a1 </s><s>[INST] u2 [/INST]")
        // No system message.
        #expect(t.render([.user("hello")]) == "<s>[INST] hello [/INST]")
        // Consecutive user turns are concatenated; a later system message acts like an assistant turn.
        #expect(t.render([.user("a"), .user("b")]) == "<s>[INST] ab [/INST]")
        #expect(t.render([.user("a"), .system(" s ")]) == "<s>[INST] a [/INST] s </s><s>[INST]  [/INST]")
        #expect(t.render([]) == "<s>[INST]  [/INST]")
    }

    @Test("chatml, zephyr and raw")
    func otherTemplates() {
        let msgs: [ChatMessage] = [.system("S"), .user("U")]
        #expect(
            PromptTemplate.chatml.render(msgs)
                == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n")
        #expect(PromptTemplate.zephyr.render(msgs) == "<|system|>\nS</s>\n<|user|>\nU</s>\n<|assistant|>\n")
        #expect(PromptTemplate.raw.render(msgs) == "S\nU")
        #expect(PromptTemplate(rawValue: "llama-2-chat") == .llama2Chat)
        #expect(PromptTemplate.allCases.map(\.rawValue) == ["llama-2-chat", "chatml", "zephyr", "raw"])
    }
}
