import Foundation
import SousStreaming
import SousTestSupport
import Testing

/// Runs python3 with `script` on stdin and returns its stdout.
private func python(_ script: String, input: String) throws -> Data {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [TestPaths.python, "-c", script]
    let inPipe = Pipe(), outPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    try p.run()
    inPipe.fileHandleForWriting.write(Data(input.utf8))
    try inPipe.fileHandleForWriting.close()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return out
}

@Suite("Generation parameters")
struct StreamingParametersTests {
    static let prompt = "<s>[INST] <<SYS>>\n\n    You are Mr.MightyMark 🚀 \"quoted\" \\ café\n<</SYS>>\n\nWrite an email [/INST]"

    @Test("TGI and LMI payloads equal Python json.dumps of the notebooks' payload dicts, byte for byte")
    func matchesNotebooks() throws {
        // The notebooks build: payload = {"inputs": prompt, "parameters": inference_params, "stream": True}
        let script = """
            import json, sys
            prompt = sys.stdin.read()
            tgi = {"do_sample": True, "top_p": 0.6, "temperature": 0.9, "top_k": 50, "max_new_tokens": 512,
                   "repetition_penalty": 1.03, "stop": ["</s>"], "return_full_text": False}
            lmi = {"do_sample": True, "top_p": 0.6, "temperature": 1.0, "top_k": 50, "max_new_tokens": 512,
                   "repetition_penalty": 1.03, "stop_sequences": ["</s>"], "return_full_text": False}
            lmi2 = {"do_sample": True, "top_p": 0.6, "temperature": 0.9, "top_k": 50, "max_new_tokens": 512,
                   "return_full_text": False}
            print(json.dumps({"inputs": prompt, "parameters": tgi, "stream": True}))
            print(json.dumps({"inputs": prompt, "parameters": lmi}))
            print(json.dumps({"inputs": prompt, "parameters": lmi2}))
            """
        let out = try python(script, input: Self.prompt)
        let lines = out.split(separator: 0x0A).map { Data($0) }
        try #require(lines.count == 3, "python3 did not run: \(String(decoding: out, as: UTF8.self))")
        let tgi = try GenerationParameters.notebookTGI.payload(inputs: Self.prompt, for: .tgi)
        #expect(tgi == lines[0], "\(String(decoding: tgi, as: UTF8.self))\n\(String(decoding: lines[0], as: UTF8.self))")
        let lmi = try GenerationParameters.notebookLMI.payload(inputs: Self.prompt, for: .lmi(version: "0.25.0"))
        #expect(lmi == lines[1], "\(String(decoding: lmi, as: UTF8.self))")
        let ex2 = GenerationParameters(maxNewTokens: 512, temperature: 0.9, topP: 0.6, topK: 50, doSample: true, returnFullText: false)
        #expect(try ex2.payload(inputs: Self.prompt, for: .lmi(version: "0.28.0")) == lines[2])
        // And it is valid JSON that round-trips the prompt.
        let obj = try #require(try JSONSerialization.jsonObject(with: tgi) as? [String: Any])
        #expect(obj["inputs"] as? String == Self.prompt)
        #expect(obj["stream"] as? Bool == true)
    }

    @Test("stream flag: TGI always, LMI 0.25 never, LMI 0.27+ only on request")
    func streamFlag() throws {
        let p = GenerationParameters(maxNewTokens: 8)
        #expect(String(decoding: try p.payload(inputs: "x", for: .tgi), as: UTF8.self) == #"{"inputs": "x", "parameters": {"max_new_tokens": 8}, "stream": true}"#)
        #expect(String(decoding: try p.payload(inputs: "x", for: .lmi(version: "0.25.0")), as: UTF8.self) == #"{"inputs": "x", "parameters": {"max_new_tokens": 8}}"#)
        #expect(String(decoding: try p.payload(inputs: "x", for: .lmi(version: "0.28.0", stream: true)), as: UTF8.self).hasSuffix(#", "stream": true}"#))
        #expect(throws: GenerationParameterError.self) { try p.payload(inputs: "x", for: .lmi(version: "0.25.0", stream: true)) }
        #expect(GenerationDialect.lmi(version: "0.28.0", stream: true).streamFormat == .jsonlines)
        #expect(GenerationDialect.lmi(version: "0.25.0").streamFormat == .lmi)
        #expect(GenerationDialect.tgi.streamFormat == .tgi)
    }

    @Test("invalid values are reported before the call with the parameter name and rule")
    func validation() {
        let bad: [(GenerationParameters, GenerationDialect, String)] = [
            (GenerationParameters(topP: 1.0), .tgi, "top_p"),
            (GenerationParameters(topP: 0), .tgi, "top_p"),
            (GenerationParameters(temperature: 0), .tgi, "temperature"),
            (GenerationParameters(temperature: -1), .lmi(version: "0.25.0"), "temperature"),
            (GenerationParameters(temperature: .nan), .tgi, "temperature"),
            (GenerationParameters(topK: 0), .tgi, "top_k"),
            (GenerationParameters(topK: -1), .lmi(version: "0.25.0"), "top_k"),
            (GenerationParameters(maxNewTokens: 0), .tgi, "max_new_tokens"),
            (GenerationParameters(repetitionPenalty: 0), .tgi, "repetition_penalty"),
            (GenerationParameters(topP: 1.5), .lmi(version: "0.28.0"), "top_p"),
        ]
        for (p, d, name) in bad {
            do {
                try p.validate(for: d)
                Issue.record("accepted \(name) for \(d)")
            } catch {
                #expect(error.parameter == name)
                #expect(error.description.contains(name) && error.description.contains("must"))
            }
        }
        // Accepted: LMI allows top_p 1.0 and top_k 0 (its defaults).
        #expect(throws: Never.self) { try GenerationParameters(topP: 1.0, topK: 0).validate(for: .lmi(version: "0.25.0")) }
        let e = GenerationParameterError(parameter: "top_p", value: "1.0", rule: "must be less than 1", dialect: "TGI")
        #expect(e.description == "invalid generation parameter top_p = 1.0 for TGI: it must be less than 1; fix the value in the recipe's parameters")
    }
}
