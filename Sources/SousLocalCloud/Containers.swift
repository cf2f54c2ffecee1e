import Foundation
import SousBasics
import SousLLM

/// Which serving container an image URI stands for.
enum ContainerKind: String, Codable, Sendable {
    case tgi, lmi

    init?(image: String) {
        let i = image.lowercased()
        if i.contains("huggingface-pytorch-tgi-inference") || i.contains("text-generation-inference") {
            self = .tgi
        } else if i.contains("djl-inference") || i.contains("djl-serving") || i.contains("djl-lmi") {
            self = .lmi
        } else {
            return nil
        }
    }
}

/// A request to `/invocations`, parsed as the container would.
struct InvocationRequest {
    var inputs: String
    var parameters: SamplingParameters
    var stream: Bool
    var details: Bool
    var returnFullText: Bool
}

/// A container-level error: TGI's `{"error", "error_type"}` (422 validation) or LMI's `{"error", "code"}`.
struct ContainerError: Error {
    var status: Int
    var body: [UInt8]
    var message: String
}

/// How one container formats its answer, token by token (bytes, as the container would write them).
protocol OutputFormatter {
    var contentType: String { get }
    mutating func start() -> [UInt8]
    /// One token; `last` is true for the final token (TGI puts `generated_text` on it).
    mutating func token(_ t: TokenEvent, index: Int, last: Bool, fullText: String, finish: GenerationFinish?) -> [UInt8]
    /// After the last token (or when no token came).
    mutating func finish(fullText: String, generated: Int, reason: GenerationFinish) -> [UInt8]
    /// Generation failed mid-stream.
    mutating func failure(_ message: String) -> [UInt8]
}

/// Numbers in the containers' JSON answers (4 decimals, `null` for none).
enum JSONNumber {
    static func fixed(_ d: Double?) -> String {
        guard let d, d.isFinite else { return "null" }
        return String(format: "%.4f", d)
    }
}

// MARK: TGI

/// TGI's SSE stream (`data:{…}\n\n`, `generated_text` on the last token) or, without `stream`, a JSON array.
struct TGIFormatter: OutputFormatter {
    var stream: Bool
    var details: Bool
    var prompt: String
    var returnFullText: Bool
    var seed: UInt64?
    var contentType: String { stream ? "text/event-stream" : "application/json" }

    mutating func start() -> [UInt8] { [] }

    private func detailsJSON(_ reason: GenerationFinish, _ n: Int) -> String {
        "{\"finish_reason\":\"\(reason.rawValue)\",\"generated_tokens\":\(n),\"seed\":\(seed.map(String.init) ?? "null")}"
    }

    mutating func token(_ t: TokenEvent, index: Int, last: Bool, fullText: String, finish: GenerationFinish?) -> [UInt8] {
        guard stream else { return [] }
        let tok = "{\"id\":\(t.id),\"text\":\(JSONText.quoted(t.text)),\"logprob\":\(JSONNumber.fixed(t.logprob)),\"special\":\(t.special)}"
        var gen = "null"
        var det = "null"
        if last {
            gen = JSONText.quoted(returnFullText ? prompt + fullText : fullText)
            if details, let finish { det = detailsJSON(finish, index) }
        }
        return Array("data:{\"index\":\(index),\"token\":\(tok),\"generated_text\":\(gen),\"details\":\(det)}\n\n".utf8)
    }

    mutating func finish(fullText: String, generated: Int, reason: GenerationFinish) -> [UInt8] {
        let text = returnFullText ? prompt + fullText : fullText
        if stream {
            if generated == 0 {
                return Array("data:{\"error\":\"Incomplete generation stream\",\"error_type\":\"incomplete_generation_stream\"}\n\n".utf8)
            }
            return []
        }
        let det = details ? ",\"details\":\(detailsJSON(reason, generated))" : ""
        return Array("[{\"generated_text\":\(JSONText.quoted(text))\(det)}]".utf8)
    }

    mutating func failure(_ message: String) -> [UInt8] {
        let body = "{\"error\":\(JSONText.quoted(message)),\"error_type\":\"generation\"}"
        return Array((stream ? "data:\(body)\n\n" : body).utf8)
    }

    /// Parses and validates a TGI request the way TGI's router does (422 `validation` errors).
    static func parse(_ body: [UInt8], maxTotalTokens: Int, maxInputTokens: Int, count: (String) -> Int) throws -> InvocationRequest {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw ContainerError(
                status: 422, body: Array("Failed to deserialize the JSON body into the target type: expected a JSON object".utf8),
                message: "the request body is not a JSON object")
        }
        func invalid(_ m: String) -> ContainerError {
            let msg = "Input validation error: \(m)"
            return ContainerError(
                status: 422, body: Array("{\"error\":\(JSONText.quoted(msg)),\"error_type\":\"validation\"}".utf8), message: msg)
        }
        guard let inputs = obj["inputs"] as? String else {
            throw ContainerError(
                status: 422, body: Array("Failed to deserialize the JSON body into the target type: missing field `inputs`".utf8),
                message: "missing field `inputs`")
        }
        let p = obj["parameters"] as? [String: Any] ?? [:]
        let stream = obj["stream"] as? Bool ?? false
        let inputLength = count(inputs)
        var s = SamplingParameters(maxNewTokens: max(1, maxTotalTokens - inputLength))
        var sampling = p["do_sample"] as? Bool ?? false
        if let t = (p["temperature"] as? NSNumber)?.doubleValue {
            guard t > 0 else { throw invalid("`temperature` must be strictly positive") }
            s.temperature = Float(t)
            if t != 1.0 { sampling = true }
        }
        if let k = (p["top_k"] as? NSNumber)?.intValue {
            guard k > 0 else { throw invalid("`top_k` must be strictly positive") }
            s.topK = k
            sampling = true
        }
        if let tp = (p["top_p"] as? NSNumber)?.doubleValue {
            guard tp > 0 && tp < 1 else { throw invalid("`top_p` must be > 0.0 and < 1.0") }
            s.topP = Float(tp)
            sampling = true
        }
        if let tp = (p["typical_p"] as? NSNumber)?.doubleValue {
            guard tp > 0 && tp < 1 else { throw invalid("`typical_p` must be > 0.0 and < 1.0") }
        }
        if let r = (p["repetition_penalty"] as? NSNumber)?.doubleValue {
            guard r > 0 else { throw invalid("`repetition_penalty` must be strictly positive") }
            s.repetitionPenalty = Float(r)
        }
        if let b = (p["best_of"] as? NSNumber)?.intValue, b != 1, stream {
            throw invalid("`best_of` != 1 is not allowed for this endpoint")
        }
        if let m = (p["max_new_tokens"] as? NSNumber)?.intValue {
            guard m > 0 else { throw invalid("`max_new_tokens` must be strictly positive") }
            s.maxNewTokens = m
        }
        if inputLength > maxInputTokens {
            throw invalid("`inputs` must have less than \(maxInputTokens) tokens. Given: \(inputLength)")
        }
        if inputLength + s.maxNewTokens > maxTotalTokens {
            throw invalid("`inputs` tokens + `max_new_tokens` must be <= \(maxTotalTokens). Given: \(inputLength) `inputs` tokens and \(s.maxNewTokens) `max_new_tokens`")
        }
        if let stop = p["stop"] as? [String] {
            guard stop.count <= 4 else { throw invalid("`stop` supports up to 4 stop sequences. Given: \(stop.count)") }
            s.stop = stop
        }
        if let seed = (p["seed"] as? NSNumber)?.uint64Value { s.seed = seed }
        if p["decoder_input_details"] as? Bool == true, stream {
            throw invalid("`decoder_input_details` == true is not supported when streaming tokens")
        }
        s.doSample = sampling
        return InvocationRequest(
            inputs: inputs, parameters: s, stream: stream, details: p["details"] as? Bool ?? false,
            returnFullText: p["return_full_text"] as? Bool ?? false)
    }
}

// MARK: LMI

/// LMI (0.28+): the incremental JSON document `{"generated_text": "…"}` by default; JSON Lines
/// (`{"token": {…}}`, `generated_text` on the last line) with `stream: true` or `option.output_formatter=jsonlines`.
struct LMIFormatter: OutputFormatter {
    var jsonLines: Bool
    var details: Bool
    var prompt: String
    var returnFullText: Bool
    var contentType: String { jsonLines ? "application/jsonlines" : "application/json" }

    mutating func start() -> [UInt8] {
        jsonLines ? [] : Array("{\"generated_text\": \"".utf8) + (returnFullText ? escapedBody(prompt) : [])
    }

    private func escapedBody(_ s: String) -> [UInt8] { Array(JSONText.quoted(s).utf8.dropFirst().dropLast()) }

    private func detailsJSON(_ reason: GenerationFinish, _ n: Int) -> String {
        "{\"finish_reason\": \"\(reason.rawValue)\", \"generated_tokens\": \(n), \"inputs\": \(JSONText.quoted(prompt))}"
    }

    mutating func token(_ t: TokenEvent, index: Int, last: Bool, fullText: String, finish: GenerationFinish?) -> [UInt8] {
        guard jsonLines else { return t.special ? [] : escapedBody(t.text) }
        var tok = "{\"id\": \(t.id), \"text\": \(JSONText.quoted(t.text)), \"log_prob\": \(JSONNumber.fixed(t.logprob))"
        if t.special { tok += ", \"special_token\": true" }
        tok += "}"
        var line = "{\"token\": \(tok)"
        if last {
            line += ", \"generated_text\": \(JSONText.quoted(returnFullText ? prompt + fullText : fullText))"
            if details, let finish { line += ", \"details\": \(detailsJSON(finish, index))" }
        }
        return Array((line + "}\n").utf8)
    }

    mutating func finish(fullText: String, generated: Int, reason: GenerationFinish) -> [UInt8] {
        if jsonLines { return [] }
        let det = details ? "\", \"details\": \(detailsJSON(reason, generated))}" : "\"}"
        return Array(det.utf8)
    }

    mutating func failure(_ message: String) -> [UInt8] {
        let line = "{\"token\": {\"id\": -1, \"text\": \"\", \"log_prob\": -1, \"special_token\": true}, \"generated_text\": \"\", \"details\": {\"finish_reason\": \"error\", \"generated_tokens\": null, \"inputs\": null, \"error\": \(JSONText.quoted(message))}}\n"
        return Array((jsonLines ? line : "\"}\n" + line).utf8)
    }

    static func parse(_ body: [UInt8], outputFormatter: String?) throws -> (InvocationRequest, jsonLines: Bool) {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            let m = "Input is not a JSON object"
            throw ContainerError(status: 424, body: Array("{\"code\": 424, \"error\": \(JSONText.quoted(m))}".utf8), message: m)
        }
        let inputs: String
        if let s = obj["inputs"] as? String {
            inputs = s
        } else if let l = obj["inputs"] as? [String], let first = l.first {
            inputs = first
        } else {
            let m = "Input is missing the \"inputs\" field"
            throw ContainerError(status: 424, body: Array("{\"code\": 424, \"error\": \(JSONText.quoted(m))}".utf8), message: m)
        }
        let p = obj["parameters"] as? [String: Any] ?? [:]
        var s = SamplingParameters(maxNewTokens: (p["max_new_tokens"] as? NSNumber)?.intValue ?? 30)
        s.doSample = p["do_sample"] as? Bool ?? false
        if let t = (p["temperature"] as? NSNumber)?.doubleValue { s.temperature = Float(t) }
        if let t = (p["top_p"] as? NSNumber)?.doubleValue { s.topP = Float(t) }
        if let k = (p["top_k"] as? NSNumber)?.intValue { s.topK = k }
        if let r = (p["repetition_penalty"] as? NSNumber)?.doubleValue { s.repetitionPenalty = Float(r) }
        if let seed = (p["seed"] as? NSNumber)?.uint64Value { s.seed = seed }
        s.stop = p["stop_sequences"] as? [String] ?? []
        let stream = obj["stream"] as? Bool ?? false
        let jsonLines = outputFormatter.map { $0 == "jsonlines" } ?? stream
        return (
            InvocationRequest(
                inputs: inputs, parameters: s, stream: stream, details: p["details"] as? Bool ?? false,
                returnFullText: p["return_full_text"] as? Bool ?? false),
            jsonLines
        )
    }
}

/// `serving.properties`: `key=value` lines, `#` comments.
enum ServingProperties {
    static func parse(_ text: String, file: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix("!") { continue }
            guard let eq = line.firstIndex(where: { $0 == "=" || $0 == ":" }) else {
                throw EndpointFailure("\(file) line \(i + 1) is not `key=value`: \(line.prefix(80)); fix serving.properties and recreate the endpoint")
            }
            out[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }
}

/// Why an endpoint could not start (becomes its FailureReason).
struct EndpointFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
