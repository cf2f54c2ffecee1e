public import Foundation

/// Generation parameters as a caller asks for them, written once and sent in each container's dialect.
///
/// Unset (nil) values are left out of the payload so the container's defaults apply. The same type holds a
/// model's `generation_config.json` defaults (`LlamaModel.generationDefaults`). The Llama runtime's sampler
/// runs with `SamplingParameters` (SousLLM), where every value is resolved: the two are the request and the
/// sampler's layers of one concept.
public struct GenerationParameters: Sendable, Hashable {
    public var maxNewTokens: Int?
    public var temperature: Double?
    public var topP: Double?
    public var topK: Int?
    public var repetitionPenalty: Double?
    public var doSample: Bool?
    /// Stop sequences: TGI's `stop`, LMI's `stop_sequences`.
    public var stop: [String]
    public var returnFullText: Bool?
    public var seed: UInt64?
    /// Ask for `details` (finish reason, token count) in the final event.
    public var details: Bool?

    public init(
        maxNewTokens: Int? = nil, temperature: Double? = nil, topP: Double? = nil, topK: Int? = nil,
        repetitionPenalty: Double? = nil, doSample: Bool? = nil, stop: [String] = [], returnFullText: Bool? = nil,
        seed: UInt64? = nil, details: Bool? = nil
    ) {
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.repetitionPenalty = repetitionPenalty
        self.doSample = doSample
        self.stop = stop
        self.returnFullText = returnFullText
        self.seed = seed
        self.details = details
    }

    /// The TGI notebooks' `inference_params` (anchor-notebooks.md §5).
    public static let notebookTGI = GenerationParameters(
        maxNewTokens: 512, temperature: 0.9, topP: 0.6, topK: 50, repetitionPenalty: 1.03, doSample: true,
        stop: ["</s>"], returnFullText: false)

    /// The LMI notebook's example 1 parameters (temperature 1.0).
    public static let notebookLMI = GenerationParameters(
        maxNewTokens: 512, temperature: 1.0, topP: 0.6, topK: 50, repetitionPenalty: 1.03, doSample: true,
        stop: ["</s>"], returnFullText: false)

    /// Checks the values against what `dialect` accepts.
    /// - Throws: `GenerationParameterError` naming the first invalid parameter.
    public func validate(for dialect: GenerationDialect) throws(GenerationParameterError) {
        let name = dialect.displayName
        func fail(_ p: String, _ v: String, _ rule: String) -> GenerationParameterError {
            GenerationParameterError(parameter: p, value: v, rule: rule, dialect: name)
        }
        if let v = maxNewTokens, v <= 0 { throw fail("max_new_tokens", "\(v)", "must be greater than 0") }
        if let v = temperature, !(v.isFinite && v > 0) { throw fail("temperature", "\(v)", "must be greater than 0") }
        if let v = repetitionPenalty, !(v.isFinite && v > 0) {
            throw fail("repetition_penalty", "\(v)", "must be greater than 0")
        }
        switch dialect {
        case .tgi:
            if let v = topP, !(v.isFinite && v > 0 && v < 1) {
                throw fail("top_p", "\(v)", "must be greater than 0 and less than 1 (TGI rejects 1.0; leave it unset to disable)")
            }
            if let v = topK, v <= 0 { throw fail("top_k", "\(v)", "must be greater than 0") }
        case .lmi(let version, let stream):
            if let v = topP, !(v.isFinite && v > 0 && v <= 1) {
                throw fail("top_p", "\(v)", "must be greater than 0 and at most 1")
            }
            if let v = topK, v < 0 { throw fail("top_k", "\(v)", "must be 0 (disabled) or more") }
            if stream && !GenerationDialect.lmiReadsStream(version) {
                throw fail("stream", "true", "is not understood before LMI 0.27 (\(version) streams its JSON document without it)")
            }
        }
        for s in stop where s.isEmpty { throw fail("stop", "\"\"", "must not contain an empty string") }
    }

    /// The request body for `dialect`: `{"inputs": …, "parameters": {…}}`, plus `"stream": true` for TGI and
    /// for LMI with `stream`, serialised exactly as Python's `json.dumps` writes it (key order of the
    /// notebooks, ASCII-escaped).
    /// - Throws: `GenerationParameterError` when a value is invalid for the dialect.
    public func payload(inputs: String, for dialect: GenerationDialect) throws(GenerationParameterError) -> Data {
        try validate(for: dialect)
        var w = PythonJSONWriter()
        w.raw("{")
        w.key("inputs")
        w.string(inputs)
        w.raw(", ")
        w.key("parameters")
        w.raw("{")
        var first = true
        func sep(_ w: inout PythonJSONWriter) {
            if !first { w.raw(", ") }
            first = false
        }
        if let v = doSample { sep(&w); w.key("do_sample"); w.raw(v ? "true" : "false") }
        if let v = topP { sep(&w); w.key("top_p"); w.double(v) }
        if let v = temperature { sep(&w); w.key("temperature"); w.double(v) }
        if let v = topK { sep(&w); w.key("top_k"); w.raw("\(v)") }
        if let v = maxNewTokens { sep(&w); w.key("max_new_tokens"); w.raw("\(v)") }
        if let v = repetitionPenalty { sep(&w); w.key("repetition_penalty"); w.double(v) }
        if !stop.isEmpty {
            sep(&w)
            w.key(dialect.stopKey)
            w.raw("[")
            for (i, s) in stop.enumerated() {
                if i > 0 { w.raw(", ") }
                w.string(s)
            }
            w.raw("]")
        }
        if let v = returnFullText { sep(&w); w.key("return_full_text"); w.raw(v ? "true" : "false") }
        if let v = seed { sep(&w); w.key("seed"); w.raw("\(v)") }
        if let v = details { sep(&w); w.key("details"); w.raw(v ? "true" : "false") }
        w.raw("}")
        if dialect.sendsStreamFlag {
            w.raw(", ")
            w.key("stream")
            w.raw("true")
        }
        w.raw("}")
        return Data(w.bytes)
    }
}
