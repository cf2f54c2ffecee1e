public import Foundation
public import SousAWS
public import SousStreaming

/// One call to a SageMaker endpoint serving an LLM: what `sagemaker.invoke-stream`, `sous invoke` and
/// `sous chat` send.
public struct InvocationRequest: Sendable {
    /// The endpoint name.
    public var endpoint: String
    /// The request body (JSON), sent as is.
    public var body: Data
    /// The container's output format (`.auto`: from the response's content type and first bytes).
    public var format: StreamFormat
    /// InvokeEndpointWithResponseStream (true) or InvokeEndpoint (false).
    public var stream: Bool
    /// `X-Amzn-SageMaker-Custom-Attributes` (the notebooks send `accept_eula=true`).
    public var customAttributes: String?
    public var targetVariant: String?
    public var inferenceComponent: String?
    public var sessionId: String?
    /// The `max_new_tokens` sent, when known: a generation that reaches it finished for `length`.
    public var maxNewTokens: Int?

    public init(
        endpoint: String, body: Data, format: StreamFormat = .auto, stream: Bool = true,
        customAttributes: String? = "accept_eula=true", targetVariant: String? = nil, inferenceComponent: String? = nil,
        sessionId: String? = nil, maxNewTokens: Int? = nil
    ) {
        self.endpoint = endpoint
        self.body = body
        self.format = format
        self.stream = stream
        self.customAttributes = customAttributes
        self.targetVariant = targetVariant
        self.inferenceComponent = inferenceComponent
        self.sessionId = sessionId
        self.maxNewTokens = maxNewTokens
    }

    var input: InvokeEndpointInput {
        InvokeEndpointInput(
            endpointName: endpoint, body: body, contentType: "application/json", customAttributes: customAttributes,
            targetVariant: targetVariant, inferenceComponentName: inferenceComponent, sessionId: sessionId)
    }
}

/// What a generation produced.
public struct InvocationResult: Sendable, Equatable {
    /// The printed text (special tokens such as `</s>` left out).
    public var text: String
    /// Tokens received: the container's `generated_tokens` when it sent details, else the text pieces printed.
    public var tokens: Int
    /// Seconds from sending the request to the first printed text (nil when nothing was printed).
    public var timeToFirstToken: Double?
    /// Tokens per second after the first one arrived (0 when it cannot be measured).
    public var tokensPerSecond: Double
    /// The container's finish reason (`length`, `eos_token`, `stop_sequence`), else `length` when
    /// `max_new_tokens` was reached, `eos_token` when the last token was a special one, else `stop`.
    public var finishReason: String
    /// Seconds from sending the request to the end of the answer.
    public var duration: Double
    /// Milliseconds from sending the request to the arrival of each printable token, in order (the tokens
    /// that one network read completed share its time).
    public var tokenArrivals: [Double]

    public init(
        text: String = "", tokens: Int = 0, timeToFirstToken: Double? = nil, tokensPerSecond: Double = 0,
        finishReason: String = "", duration: Double = 0, tokenArrivals: [Double] = []
    ) {
        self.text = text
        self.tokens = tokens
        self.timeToFirstToken = timeToFirstToken
        self.tokensPerSecond = tokensPerSecond
        self.finishReason = finishReason
        self.duration = duration
        self.tokenArrivals = tokenArrivals
    }

    /// `time to first token: 120 ms · 42 tokens · 31.5 tokens/s · finish: eos_token`.
    public var summaryLine: String {
        let ttft = timeToFirstToken.map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
        return String(format: "time to first token: %@ · %d tokens · %.1f tokens/s · finish: %@", ttft, tokens, tokensPerSecond, finishReason)
    }
}

/// A generation that failed or was stopped; `partial` holds what was received (and printed) before.
public struct InvocationError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The service or the stream failed (ModelError, ModelStreamError, …): see `runtimeError`.
        case runtime
        /// The container reported an error inside its output (TGI `{"error": …}`, LMI `finish_reason: error`).
        case container
        /// The task was cancelled (Ctrl-C).
        case cancelled
    }

    public var kind: Kind
    public var endpoint: String
    public var message: String
    public var partial: InvocationResult
    public var runtimeError: SageMakerRuntimeError?

    public var description: String {
        var s: String
        switch kind {
        case .runtime: s = runtimeError?.description ?? "endpoint \(endpoint): \(message)"
        case .container: s = "endpoint \(endpoint): the model container reported an error in its output: \(message)"
        case .cancelled: s = "endpoint \(endpoint): the answer was stopped"
        }
        if partial.tokens > 0 {
            s += "; \(partial.tokens) token\(partial.tokens == 1 ? " was" : "s were") printed before it"
        }
        return s
    }
}

/// Sends an `InvocationRequest` and streams the printable text to a callback as it arrives.
public enum EndpointInvoker {
    /// Invokes the endpoint; `onText` gets the printable text as soon as its bytes arrived: once per arrival
    /// (every token that the bytes received together completed, in one string, so a terminal sees one write
    /// per network read and nothing waits), or once per token when `perToken` is set (`--json` prints one
    /// object per token).
    /// - Throws: `InvocationError` (with the partial result) for service, stream and container errors and
    ///   for cancellation; `SageMakerRuntimeError` of kind `.invalidInput` when nothing was sent.
    public static func invoke(
        _ request: InvocationRequest, client: SageMakerRuntimeClient, perToken: Bool = false, onText: (String) -> Void
    ) async throws -> InvocationResult {
        var answer = AnswerStream(request: request, perToken: perToken)
        do {
            if request.stream {
                let out = try await client.invokeEndpointWithResponseStream(request.input)
                answer.contentType = out.contentType
                var parts = out.payloadParts.makeAsyncIterator()
                // One arrival = the parts that the bytes received together complete: parsed, then written in one go.
                while try await parts.nextArrival({ raw in answer.feed(raw, onText) }) {
                    try Task.checkCancellation()
                    answer.flush(onText)
                    if let e = answer.acc.containerError { throw answer.acc.failure(.container, e) }
                }
                try Task.checkCancellation()
                answer.finish(onText)
            } else {
                let out = try await client.invokeEndpoint(request.input)
                answer.contentType = out.contentType
                out.body.withUnsafeBytes { raw in answer.feed(raw, onText) }
                answer.flush(onText)
                answer.finish(onText)
            }
        } catch let e as InvocationError {
            throw e
        } catch let e as SageMakerRuntimeError where e.kind == .invalidInput {
            throw e
        } catch {
            if Task.isCancelled || error is CancellationError { throw answer.acc.failure(.cancelled, "stopped") }
            var f = answer.acc.failure(.runtime, "\(error)")
            f.runtimeError = error as? SageMakerRuntimeError
            throw f
        }
        if let e = answer.acc.containerError { throw answer.acc.failure(.container, e) }
        // A container that only sent its full text at the end (non-streaming answers) still prints it.
        if !answer.acc.hasText, let f = answer.acc.finalText, !f.isEmpty {
            answer.acc.text = f
            onText(f)
        }
        return answer.acc.result()
    }
}

/// One answer as it streams: the container-format parser and the accumulated text, timing and final
/// details. `sous invoke`, `sous chat` and `sagemaker.invoke-stream` consume payload parts through it (and
/// `sous bench stream` measures it).
public struct AnswerStream {
    var acc: Accumulator
    private var parser: AnyStreamParser?
    private var reader: StreamTextReader?
    private let format: StreamFormat
    private let perToken: Bool
    /// The response's content type (for `.auto`); set before the first part.
    public var contentType: String?
    private var pending = ""

    public init(request: InvocationRequest, perToken: Bool = false) {
        acc = Accumulator(request: request)
        format = request.format
        self.perToken = perToken
    }

    /// The text so far.
    public var text: String { acc.text }
    /// Printable tokens so far.
    public var tokens: Int { perToken ? acc.pieces : (reader?.tokens ?? 0) }
    /// The container's error event, if one came.
    public var containerError: String? { acc.containerError }

    /// Parses one payload part. With `perToken`, `onText` gets each token now (one `StreamEvent` per token);
    /// otherwise the text gathers as bytes until `flush` (call it once the parts that arrived together are fed).
    public mutating func feed(_ raw: UnsafeRawBufferPointer, _ onText: (String) -> Void) {
        if perToken {
            if parser == nil { parser = AnyStreamParser(format: format, contentType: contentType) }
            withParser { p, acc in
                p.feed(raw) { ev in if let t = acc.handle(ev) { onText(t) } }
            }
        } else {
            if reader == nil { reader = StreamTextReader(format: format, contentType: contentType) }
            reader!.feed(raw)
        }
    }

    /// Hands the text fed since the last flush to `onText` (nothing when there is none).
    public mutating func flush(_ onText: (String) -> Void) {
        guard !perToken, reader != nil else { return }
        let text = reader!.takeText()
        acc.absorb(reader!, arrived: text)
        if let text { onText(text) }
    }

    /// Ends the stream (a last line without its newline is still parsed) and flushes.
    public mutating func finish(_ onText: (String) -> Void) {
        if perToken {
            if parser == nil { parser = AnyStreamParser(format: format, contentType: contentType) }
            withParser { p, acc in
                p.finish { ev in if let t = acc.handle(ev) { onText(t) } }
            }
        } else {
            if reader == nil { reader = StreamTextReader(format: format, contentType: contentType) }
            reader!.finish()
            flush(onText)
        }
    }

    /// The result so far (timing, tokens, finish reason).
    public func result() -> InvocationResult { acc.result() }

    private mutating func withParser(_ body: (inout AnyStreamParser, inout Accumulator) -> Void) {
        body(&parser!, &acc)
    }
}

/// Collects the events of one answer and times them.
struct Accumulator {
    let request: InvocationRequest
    let start = ContinuousClock.now
    var firstAt: ContinuousClock.Instant?
    var lastAt: ContinuousClock.Instant?
    /// The answer as the pieces that arrived (joined on read: no regrowing copy of a long answer per piece).
    private var pieces_: [String] = []
    var text: String {
        get { pieces_.count == 1 ? pieces_[0] : pieces_.joined() }
        set { pieces_ = newValue.isEmpty ? [] : [newValue] }
    }
    var hasText: Bool { !pieces_.isEmpty }
    mutating func appendText(_ t: String) { if !t.isEmpty { pieces_.append(t) } }
    var pieces = 0
    /// When each of the `pieces` arrived, in milliseconds since `start` (one clock read per arrival).
    var arrivals: [Double] = []
    var lastWasSpecial = false
    var details: StreamDetails?
    var finalText: String?
    var containerError: String?

    init(request: InvocationRequest) { self.request = request }

    /// Records `event`; returns the text to print, if any.
    mutating func handle(_ event: StreamEvent) -> String? {
        switch event {
        case .token(let t, _, let special):
            lastWasSpecial = special
            guard !special else { return nil }
            pieces += 1
            let now = ContinuousClock.now
            arrivals.append(milliseconds(now - start))
            guard !t.isEmpty else { return nil }
            if firstAt == nil { firstAt = now }
            lastAt = now
            appendText(t)
            return t
        case .final(let generated, let d):
            finalText = generated
            if let d { details = d }
            if d?.finishReason == "error", containerError == nil {
                containerError = "the generation ended with finish_reason \"error\""
            }
            return nil
        case .error(let message):
            if containerError == nil { containerError = message }
            return nil
        }
    }

    /// Takes over what a `StreamTextReader` saw; `arrived` is the text of one arrival (its tokens share
    /// its time).
    mutating func absorb(_ reader: StreamTextReader, arrived: String?) {
        let newPieces = reader.tokens - pieces
        pieces = reader.tokens
        lastWasSpecial = reader.lastWasSpecial
        if let f = reader.finalText { finalText = f }
        if let d = reader.finalDetails {
            details = d
            if d.finishReason == "error", containerError == nil, reader.firstError == nil {
                containerError = "the generation ended with finish_reason \"error\""
            }
        }
        if containerError == nil, let e = reader.firstError { containerError = e }
        let hasText = arrived.map { !$0.isEmpty } ?? false
        guard newPieces > 0 || hasText else { return }
        let now = ContinuousClock.now
        if newPieces > 0 { arrivals.append(contentsOf: repeatElement(milliseconds(now - start), count: newPieces)) }
        if let arrived, hasText {
            if firstAt == nil { firstAt = now }
            lastAt = now
            appendText(arrived)
        }
    }

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    func milliseconds(_ d: Duration) -> Double { seconds(d) * 1000 }

    func result() -> InvocationResult {
        let end = ContinuousClock.now
        var r = InvocationResult()
        r.text = text
        r.tokens = details?.generatedTokens ?? pieces
        if r.tokens == 0 && !r.text.isEmpty { r.tokens = 1 }
        r.timeToFirstToken = firstAt.map { seconds($0 - start) }
        if let first = firstAt, let last = lastAt, pieces > 1 {
            let span = seconds(last - first)
            r.tokensPerSecond = span > 0 ? Double(pieces - 1) / span : 0
        }
        if let reason = details?.finishReason, !reason.isEmpty {
            r.finishReason = reason
        } else if let max = request.maxNewTokens, r.tokens >= max {
            r.finishReason = "length"
        } else if lastWasSpecial {
            r.finishReason = "eos_token"
        } else {
            r.finishReason = "stop"
        }
        r.duration = seconds(end - start)
        r.tokenArrivals = arrivals
        return r
    }

    func failure(_ kind: InvocationError.Kind, _ message: String) -> InvocationError {
        var partial = result()
        partial.finishReason = kind == .cancelled ? "cancelled" : "error"
        return InvocationError(kind: kind, endpoint: request.endpoint, message: message, partial: partial)
    }
}
