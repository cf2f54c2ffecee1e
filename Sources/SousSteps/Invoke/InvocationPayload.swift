public import Foundation
public import SousRecipe
public import SousStreaming

/// Builds request bodies for LLM containers: the container dialect, generation parameters and prompts.
public enum InvocationPayload {
    /// The parameter dialect for a `container` setting: `tgi`, `lmi`, or `auto`/a hint such as an image URI
    /// (`…huggingface-pytorch-tgi-inference:2.3.0-tgi2.0.2…` → TGI, `…djl-inference:0.25.0-deepspeed…` → LMI
    /// 0.25.0). `auto` without a recognisable hint means TGI.
    /// - Throws: `InvocationInputError` for an empty or unknown value.
    public static func dialect(container: String?) throws(InvocationInputError) -> GenerationDialect {
        let raw = (container ?? "auto").trimmingCharacters(in: .whitespaces)
        let c = raw.lowercased()
        if c.isEmpty { throw InvocationInputError("'container' is empty; use tgi, lmi or auto") }
        if c == "tgi" || c == "auto" { return .tgi }
        if c == "lmi" || c == "djl" { return .lmi(version: "(unknown version)") }
        if c.contains("tgi") || c.contains("huggingface") { return .tgi }
        if c.contains("djl") || c.contains("lmi") {
            return .lmi(version: lmiVersion(in: c) ?? "(unknown version)")
        }
        throw InvocationInputError(
            "'container' is \"\(raw)\"; use tgi, lmi, auto, or the endpoint's image URI (a TGI or DJL/LMI image)")
    }

    /// `0.25.0` from `…/djl-inference:0.25.0-deepspeed0.11.0-cu118`.
    static func lmiVersion(in image: String) -> String? {
        guard let colon = image.lastIndex(of: ":") else { return nil }
        let tag = image[image.index(after: colon)...]
        let v = tag.prefix { $0.isNumber || $0 == "." }
        return v.split(separator: ".").count >= 2 ? String(v) : nil
    }

    /// The parameter names a `parameters` map may hold.
    public static let parameterNames = [
        "max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty", "do_sample", "stop",
        "return_full_text", "seed", "details",
    ]

    /// Reads a `parameters` map (`max_new_tokens: 512`, `stop: ["</s>"]`, …).
    /// - Throws: `InvocationInputError` for an unknown name or a value of the wrong type.
    public static func parameters(_ map: ValueMap) throws(InvocationInputError) -> GenerationParameters {
        var p = GenerationParameters()
        for e in map {
            let v = e.value
            if v == .null { continue }
            func bad(_ expected: String) -> InvocationInputError {
                InvocationInputError("parameter '\(e.key)' must be \(expected), not \(v.jsonString())")
            }
            switch e.key {
            case "max_new_tokens":
                guard let i = v.intValue else { throw bad("an integer") }
                p.maxNewTokens = i
            case "temperature":
                guard let d = v.doubleValue else { throw bad("a number") }
                p.temperature = d
            case "top_p":
                guard let d = v.doubleValue else { throw bad("a number") }
                p.topP = d
            case "top_k":
                guard let i = v.intValue else { throw bad("an integer") }
                p.topK = i
            case "repetition_penalty":
                guard let d = v.doubleValue else { throw bad("a number") }
                p.repetitionPenalty = d
            case "do_sample":
                guard let b = v.boolValue else { throw bad("true or false") }
                p.doSample = b
            case "return_full_text":
                guard let b = v.boolValue else { throw bad("true or false") }
                p.returnFullText = b
            case "details":
                guard let b = v.boolValue else { throw bad("true or false") }
                p.details = b
            case "seed":
                guard let i = v.intValue, i >= 0 else { throw bad("an integer of 0 or more") }
                p.seed = UInt64(i)
            case "stop":
                if let s = v.stringValue {
                    p.stop = [s]
                } else if let l = v.listValue {
                    var stops: [String] = []
                    for item in l {
                        guard let s = item.stringValue else { throw bad("a list of strings") }
                        stops.append(s)
                    }
                    p.stop = stops
                } else {
                    throw bad("a list of strings")
                }
            default:
                let known = parameterNames.joined(separator: ", ")
                throw InvocationInputError("unknown generation parameter '\(e.key)'; known parameters: \(known)")
            }
        }
        return p
    }

    /// The JSON body for `prompt`: `{"inputs": …, "parameters": {…}}` in the dialect's names, with
    /// `"stream": true` for TGI when streaming (serialised like Python's `json.dumps`, as the notebooks send).
    /// - Throws: `GenerationParameterError` when a value is invalid for the container (checked before any call).
    public static func body(
        prompt: String, parameters: GenerationParameters, dialect: GenerationDialect, stream: Bool
    ) throws(GenerationParameterError) -> Data {
        var data = try parameters.payload(inputs: prompt, for: dialect)
        if !stream, case .tgi = dialect {
            // TGI's /invocations answers one JSON array when "stream" is absent.
            let suffix = Data(#", "stream": true}"#.utf8)
            if data.count >= suffix.count, data.suffix(suffix.count) == suffix {
                data = data.prefix(data.count - suffix.count) + Data("}".utf8)
            }
        }
        return data
    }

    /// Chat messages from a `messages` list of `{role, content}` maps.
    /// - Throws: `InvocationInputError` for a malformed entry.
    public static func messages(_ list: [Value]) throws(InvocationInputError) -> [ChatMessage] {
        var out: [ChatMessage] = []
        for (i, item) in list.enumerated() {
            guard let m = item.mapValue, let roleText = m["role"]?.stringValue, let content = m["content"]?.stringValue else {
                throw InvocationInputError("messages[\(i)] must be a map with 'role' and 'content' strings")
            }
            guard let role = ChatMessage.Role(rawValue: roleText) else {
                throw InvocationInputError("messages[\(i)].role is \"\(roleText)\"; use system, user or assistant")
            }
            out.append(ChatMessage(role: role, content: content))
        }
        return out
    }

    /// The template named `name` (`llama-2-chat`, `chatml`, `zephyr`, `raw`).
    public static func template(_ name: String) throws(InvocationInputError) -> PromptTemplate {
        guard let t = PromptTemplate(rawValue: name) else {
            let names = PromptTemplate.allCases.map(\.rawValue).joined(separator: ", ")
            throw InvocationInputError("unknown template \"\(name)\"; use one of \(names)")
        }
        return t
    }

    /// The stream format named `name` (`auto`, `tgi`, `lmi`, `jsonlines`, `raw`).
    public static func format(_ name: String) throws(InvocationInputError) -> StreamFormat {
        guard let f = StreamFormat(rawValue: name) else {
            let names = StreamFormat.allCases.map(\.rawValue).joined(separator: ", ")
            throw InvocationInputError("unknown format \"\(name)\"; use one of \(names)")
        }
        return f
    }
}

/// An invalid invocation setting (recipe input or command-line option), found before any call.
public struct InvocationInputError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
