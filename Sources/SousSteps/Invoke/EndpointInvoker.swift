public import Foundation
public import SousAWS
public import SousLLM

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

    public init(
        text: String = "", tokens: Int = 0, timeToFirstToken: Double? = nil, tokensPerSecond: Double = 0,
        finishReason: String = "", duration: Double = 0
    ) {
        self.text = text
        self.tokens = tokens
        self.timeToFirstToken = timeToFirstToken
        self.tokensPerSecond = tokensPerSecond
        self.finishReason = finishReason
        self.duration = duration
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
    /// Invokes the endpoint; `onText` gets every printable token as soon as its bytes arrived.
    /// - Throws: `InvocationError` (with the partial result) for service, stream and container errors and
    ///   for cancellation; `SageMakerRuntimeError` of kind `.invalidInput` when nothing was sent.
    public static func invoke(
        _ request: InvocationRequest, client: SageMakerRuntimeClient, onText: (String) -> Void
    ) async throws -> InvocationResult {
        var acc = Accumulator(request: request)
        do {
            if request.stream {
                let out = try await client.invokeEndpointWithResponseStream(request.input)
                var parser = AnyStreamParser(format: request.format, contentType: out.contentType)
                for try await part in out.payloadParts {
                    try Task.checkCancellation()
                    part.withUnsafeBytes { raw in parser.feed(raw) { if let t = acc.handle($0) { onText(t) } } }
                    if let e = acc.containerError { throw acc.failure(.container, e) }
                }
                try Task.checkCancellation()
                parser.finish { if let t = acc.handle($0) { onText(t) } }
            } else {
                let out = try await client.invokeEndpoint(request.input)
                var parser = AnyStreamParser(format: request.format, contentType: out.contentType)
                out.body.withUnsafeBytes { raw in parser.feed(raw) { if let t = acc.handle($0) { onText(t) } } }
                parser.finish { if let t = acc.handle($0) { onText(t) } }
            }
        } catch let e as InvocationError {
            throw e
        } catch let e as SageMakerRuntimeError where e.kind == .invalidInput {
            throw e
        } catch {
            if Task.isCancelled || error is CancellationError { throw acc.failure(.cancelled, "stopped") }
            var f = acc.failure(.runtime, "\(error)")
            f.runtimeError = error as? SageMakerRuntimeError
            throw f
        }
        if let e = acc.containerError { throw acc.failure(.container, e) }
        // A container that only sent its full text at the end (non-streaming answers) still prints it.
        if acc.text.isEmpty, let f = acc.finalText, !f.isEmpty {
            acc.text = f
            onText(f)
        }
        return acc.result()
    }
}

/// Collects the events of one answer and times them.
struct Accumulator {
    let request: InvocationRequest
    let start = ContinuousClock.now
    var firstAt: ContinuousClock.Instant?
    var lastAt: ContinuousClock.Instant?
    var text = ""
    var pieces = 0
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
            guard !t.isEmpty else { return nil }
            let now = ContinuousClock.now
            if firstAt == nil { firstAt = now }
            lastAt = now
            text += t
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

    func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

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
        return r
    }

    func failure(_ kind: InvocationError.Kind, _ message: String) -> InvocationError {
        var partial = result()
        partial.finishReason = kind == .cancelled ? "cancelled" : "error"
        return InvocationError(kind: kind, endpoint: request.endpoint, message: message, partial: partial)
    }
}
