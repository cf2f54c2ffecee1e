public import Foundation
public import SousHTTP

/// Client for the SageMaker Runtime data plane (`runtime.sagemaker.<region>.amazonaws.com`, rest-json,
/// SigV4 signing name `sagemaker`): InvokeEndpoint and InvokeEndpointWithResponseStream.
public struct SageMakerRuntimeClient: Sendable {
    public let region: String
    /// Scheme, host and port of the service (no path).
    public let endpoint: URL
    public let signer: any RequestSigner
    public let http: HTTPClient
    /// How long a call may stay silent, and how long it may take in all.
    public var limits = InvocationLimits()
    /// Retries of a call that failed before the first byte of its answer: throttling, 5xx, a refused or
    /// reset connection. Never after that byte, so a half-printed answer is never asked for twice.
    public var retry = AWSRetryStrategy(maxAttempts: 3)
    /// Hears about each retry before its wait, in one sentence (`sous invoke -v` and the step's log show it).
    public var onRetry: (@Sendable (String) -> Void)?

    /// SigV4 signing name of the service.
    public static let signingName = "sagemaker"
    /// Largest request body the service accepts (6 MiB).
    public static let maxBodyLength = 6 * 1024 * 1024

    /// - Parameters:
    ///   - endpointURL: overrides the service URL; otherwise `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, then
    ///     `AWS_ENDPOINT_URL` from `environment`, then `https://runtime.sagemaker.<region>.amazonaws.com`.
    public init(
        region: String, signer: any RequestSigner, endpointURL: URL? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment, http: HTTPClient = .shared
    ) {
        self.region = region
        self.signer = signer
        self.http = http
        self.endpoint = endpointURL ?? Self.resolveEndpoint(region: region, environment: environment)
    }

    /// The service URL for `region`, honouring the standard endpoint-override variables.
    public static func resolveEndpoint(region: String, environment: [String: String]) -> URL {
        for key in ["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL"] {
            if let v = environment[key], !v.isEmpty, let url = URL(string: v), url.scheme != nil { return url }
        }
        let suffix = region.hasPrefix("cn-") ? "amazonaws.com.cn" : "amazonaws.com"
        return URL(string: "https://runtime.sagemaker.\(region).\(suffix)")!
    }

    /// InvokeEndpoint: the whole answer at once (at most 64 MiB).
    /// - Throws: `SageMakerRuntimeError` (invalid input, the service's error, a timeout, a broken connection),
    ///   `HTTPError` for other transport failures.
    public func invokeEndpoint(_ input: InvokeEndpointInput) async throws -> InvokeEndpointOutput {
        let call = try await call(input, path: "invocations", acceptHeader: "Accept", operation: "InvokeEndpoint")
        var body = call.first ?? Data()
        var rest = call.rest.makeAsyncIterator()
        let limit = HTTPRequest(url: endpoint).responseBodyLimit
        do {
            while let chunk = try await rest.next() {
                guard chunk.count <= limit - body.count else {
                    throw SageMakerRuntimeError(
                        kind: .http(status: call.head.status), endpointName: input.endpointName, code: "ResponseTooLarge",
                        message: "the answer is larger than the \(limit) bytes InvokeEndpoint reads; stream it instead")
                }
                body.append(chunk)
            }
        } catch let e as HTTPError {
            let (kind, code, message) = call.classify(e)
            throw SageMakerRuntimeError(kind: kind, endpointName: input.endpointName, code: code, message: message, receivedByteCount: body.count)
        }
        let h = call.head.headers
        return InvokeEndpointOutput(
            body: body, contentType: h["Content-Type"],
            invokedProductionVariant: h["x-Amzn-Invoked-Production-Variant"],
            customAttributes: h["X-Amzn-SageMaker-Custom-Attributes"],
            newSessionId: h["X-Amzn-SageMaker-New-Session-Id"], closedSessionId: h["X-Amzn-SageMaker-Closed-Session-Id"],
            requestId: h["x-amzn-RequestId"])
    }

    /// InvokeEndpointWithResponseStream: returns once the first bytes of the answer arrive; the payload parts
    /// stream.
    /// - Throws: `SageMakerRuntimeError` (invalid input, or an HTTP error such as ModelError 424 with the
    ///   container's message, a timeout), `HTTPError` when the connection fails before the answer.
    public func invokeEndpointWithResponseStream(_ input: InvokeEndpointInput) async throws -> InvokeEndpointStreamOutput {
        let call = try await call(
            input, path: "invocations-response-stream", acceptHeader: "X-Amzn-SageMaker-Accept",
            operation: "InvokeEndpointWithResponseStream")
        let h = call.head.headers
        return InvokeEndpointStreamOutput(
            contentType: h["X-Amzn-SageMaker-Content-Type"],
            invokedProductionVariant: h["x-Amzn-Invoked-Production-Variant"],
            customAttributes: h["X-Amzn-SageMaker-Custom-Attributes"],
            requestId: h["x-amzn-RequestId"],
            payloadParts: SageMakerPayloadStream(call, endpointName: input.endpointName, requestId: h["x-amzn-RequestId"]))
    }

    /// A call whose answer has begun: its head, the first bytes of its body and the rest.
    struct Call: Sendable {
        var head: HTTPResponseHead
        var first: Data?
        /// The body after `first` (a new iterator goes on where the last one stopped).
        var rest: HTTPBodyStream
        var limits: InvocationLimits
        var started: ContinuousClock.Instant

        /// What a transport failure after the answer began is: a timeout says which limit it hit.
        func classify(_ error: HTTPError) -> (SageMakerRuntimeError.Kind, code: String, message: String) {
            if error.kind == .timedOut { return (.timedOut, "Timeout", limits.describeTimeout(after: ContinuousClock.now - started)) }
            return (.transport, "TransportError", "\(error)")
        }
    }

    /// Sends the call and waits for the first bytes of its answer, retrying (see `retry`) while none has come:
    /// a retryable service error (`SageMakerRuntimeError.isRetryable`), a refused connection, or one that
    /// broke before the first byte. The deadline covers every attempt.
    func call(_ input: InvokeEndpointInput, path: String, acceptHeader: String, operation: String) async throws -> Call {
        let started = ContinuousClock.now
        var attempt = 1
        var spent = 0
        while true {
            let elapsed = ContinuousClock.now - started
            var request = try await signedRequest(input, path: path, acceptHeader: acceptHeader)
            request.timeouts = limits.timeouts(elapsed: elapsed)
            let failure: String
            do {
                let response = try await http.stream(request)
                let head = response.head
                if (200..<300).contains(head.status) {
                    var body = response.body.makeAsyncIterator()
                    let first = try await body.next()
                    retry.quota?.release(spent: spent)
                    return Call(head: head, first: first, rest: response.body, limits: limits, started: started)
                }
                let body = (try? await response.body.collect(upTo: 64 * 1024)) ?? Data()
                let error = Self.serviceError(status: head.status, headers: head.headers, body: body, endpoint: input.endpointName)
                guard error.isRetryable, attempt < retry.maxAttempts else { throw error }
                failure = "\(error.code), HTTP \(head.status)"
            } catch let e as HTTPError where e.kind == .timedOut {
                throw SageMakerRuntimeError(
                    kind: .timedOut, endpointName: input.endpointName, code: "Timeout",
                    message: limits.describeTimeout(after: ContinuousClock.now - started))
            } catch let e as HTTPError where [.couldNotConnect, .connectionReset].contains(e.kind) && attempt < retry.maxAttempts {
                failure = e.kind == .couldNotConnect ? "could not connect" : "the connection broke before the answer"
            }
            let delay = retry.delay(beforeRetry: attempt)
            if let deadline = limits.deadline, ContinuousClock.now - started + delay >= deadline {
                throw SageMakerRuntimeError(
                    kind: .timedOut, endpointName: input.endpointName, code: "Timeout",
                    message: "\(failure), and no time is left for a retry before the \(InvocationLimits.seconds(deadline)) s deadline")
            }
            if let quota = retry.quota {
                guard let cost = quota.acquire(timeout: false) else {
                    throw SageMakerRuntimeError(
                        kind: .transport, endpointName: input.endpointName, code: "RetryQuotaExceeded",
                        message: "\(failure); the retry quota of this process is used up")
                }
                spent += cost
            }
            onRetry?(
                "\(operation) \(input.endpointName): \(failure) (attempt \(attempt) of \(retry.maxAttempts)); "
                    + "retrying in \(InvocationLimits.seconds(delay)) s")
            try await retry.sleep(delay)  // backoff before the next attempt
            attempt += 1
        }
    }

    /// Builds and signs the POST for `/endpoints/<name>/<path>`.
    func signedRequest(_ input: InvokeEndpointInput, path: String, acceptHeader: String) async throws -> HTTPRequest {
        try Self.validate(input)
        var url = endpoint
        url.appendPathComponent("endpoints")
        url.appendPathComponent(input.endpointName)
        url.appendPathComponent(path)
        var headers = HTTPHeaders()
        headers.set("Content-Type", input.contentType)
        let optional: [(String, String?)] = [
            (acceptHeader, input.accept),
            ("X-Amzn-SageMaker-Custom-Attributes", input.customAttributes),
            ("X-Amzn-SageMaker-Target-Variant", input.targetVariant),
            ("X-Amzn-SageMaker-Target-Container-Hostname", input.targetContainerHostname),
            ("X-Amzn-SageMaker-Inference-Id", input.inferenceId),
            ("X-Amzn-SageMaker-Inference-Component", input.inferenceComponentName),
            ("X-Amzn-SageMaker-Session-Id", input.sessionId),
        ]
        for (name, value) in optional { if let value { headers.set(name, value) } }
        let request = HTTPRequest(method: "POST", url: url, headers: headers, body: .bytes(input.body))
        return try await signer.sign(request, service: Self.signingName, region: region)
    }

    static func validate(_ input: InvokeEndpointInput) throws {
        func bad(_ message: String) -> SageMakerRuntimeError {
            SageMakerRuntimeError(kind: .invalidInput, endpointName: input.endpointName, code: "InvalidInput", message: message)
        }
        let name = Array(input.endpointName.utf8)
        let alnum = { (c: UInt8) in (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) }
        guard (1...63).contains(name.count), alnum(name.first!), alnum(name.last!),
            name.allSatisfy({ alnum($0) || $0 == 0x2D })
        else {
            throw bad("the endpoint name must be 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit")
        }
        guard input.body.count <= maxBodyLength else {
            throw bad("the request body is \(input.body.count) bytes; SageMaker accepts at most 6 MiB")
        }
        if let c = input.customAttributes, c.utf8.count > 1024 || !c.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            throw bad("custom attributes must be at most 1024 printable ASCII characters")
        }
        for (label, value, limit) in [
            ("target variant", input.targetVariant, 63), ("target container hostname", input.targetContainerHostname, 63),
            ("inference id", input.inferenceId, 64), ("inference component", input.inferenceComponentName, 63),
            ("session id", input.sessionId, 256),
        ] {
            if let v = value, v.isEmpty || v.utf8.count > limit || !v.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
                throw bad("the \(label) must be 1 to \(limit) printable ASCII characters")
            }
        }
    }

    /// A rest-json error: code from `x-amzn-ErrorType` (before `:`, after `#`) or the body's `__type`/`code`,
    /// message from `message`/`Message`, plus ModelError's `OriginalStatusCode`, `OriginalMessage`, `LogStreamArn`.
    static func serviceError(status: Int, headers: HTTPHeaders, body: Data, endpoint: String) -> SageMakerRuntimeError {
        let json = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        func clean(_ s: String) -> String {
            var c = Substring(s)
            if let colon = c.firstIndex(of: ":") { c = c[..<colon] }
            if let hash = c.lastIndex(of: "#") { c = c[c.index(after: hash)...] }
            return String(c)
        }
        let rawCode = headers["x-amzn-ErrorType"] ?? (json["__type"] as? String) ?? (json["code"] as? String)
            ?? (json["Code"] as? String)
        let code = rawCode.map(clean) ?? "HTTP\(status)"
        var message = (json["message"] as? String) ?? (json["Message"] as? String) ?? ""
        if message.isEmpty {
            message = String(decoding: body.prefix(1000), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if message.isEmpty { message = "no error message in the response" }
        return SageMakerRuntimeError(
            kind: .http(status: status), endpointName: endpoint, code: code, message: message,
            originalStatusCode: (json["OriginalStatusCode"] as? NSNumber)?.intValue,
            originalMessage: json["OriginalMessage"] as? String, logStreamArn: json["LogStreamArn"] as? String,
            requestId: headers["x-amzn-RequestId"])
    }
}

/// The `PayloadPart` bytes of an InvokeEndpointWithResponseStream body. `ModelStreamError`,
/// `InternalStreamFailure` and other error frames, a corrupt or truncated event stream, and connection
/// failures end it with a `SageMakerRuntimeError` that keeps the bytes received so far. Unknown events are skipped.
public struct SageMakerPayloadStream: AsyncSequence, Sendable {
    public typealias Element = Data
    public typealias Failure = any Error

    let call: SageMakerRuntimeClient.Call
    let endpointName: String
    let requestId: String?

    init(_ call: SageMakerRuntimeClient.Call, endpointName: String, requestId: String?) {
        self.call = call
        self.endpointName = endpointName
        self.requestId = requestId
    }

    public func makeAsyncIterator() -> Iterator {
        var events = PayloadEventIterator(base: call.rest.makeAsyncIterator(), endpointName: endpointName, requestId: requestId)
        if let first = call.first { events.decoder.feed(first) }
        let call = call
        events.classifyTransport = { call.classify($0) }
        return Iterator(events: events)
    }

    public struct Iterator: AsyncIteratorProtocol {
        var events: PayloadEventIterator<HTTPBodyStream.AsyncIterator>
        public mutating func next() async throws -> Data? { try await events.next() }
        /// Hands every payload that the bytes received so far complete to `body` (straight from the decoder's
        /// buffer), waiting for the network only while none is complete; false at the end. A consumer that
        /// writes once per arrival writes once per network read, never later than a per-part writer would.
        public mutating func nextArrival(_ body: (UnsafeRawBufferPointer) -> Void) async throws -> Bool {
            try await events.nextArrival(body)
        }
    }
}

/// Decodes an event-stream body into payload bytes, or `SageMakerRuntimeError`s for error events, corrupt
/// frames and transport failures (shared by the HTTP stream and tests).
public struct PayloadEventIterator<Base: AsyncIteratorProtocol> where Base.Element == Data {
    var base: Base
    var decoder = EventStreamDecoder()
    var done = false
    let endpointName: String
    let requestId: String?
    /// How a transport error of the body becomes a runtime error (the HTTP stream's timeouts); nil: `.transport`.
    var classifyTransport: (@Sendable (HTTPError) -> (SageMakerRuntimeError.Kind, code: String, message: String))?
    /// Payload kept for error reports (first 4 MiB).
    var received = Data()
    var receivedCount = 0
    static var keep: Int { 4 * 1024 * 1024 }

    public init(base: Base, endpointName: String, requestId: String?) {
        self.base = base
        self.endpointName = endpointName
        self.requestId = requestId
    }

    /// The next payload among the bytes already received, or nil when they hold no complete frame.
    mutating func nextBuffered() throws -> Data? {
        while true {
            let outcome: Outcome?
            do {
                outcome = try decoder.nextFrame { f in
                    f.isPayloadPart ? Outcome.payload(Data(f.payload)) : Outcome.other(f.message())
                }
            } catch {
                throw failure(.eventStream(error), code: "EventStreamError", message: error.description)
            }
            switch outcome {
            case .payload(let bytes):
                receivedCount += bytes.count
                if received.count < Self.keep { received.append(bytes.prefix(Self.keep - received.count)) }
                if !bytes.isEmpty { return bytes }
            case .other(let m):
                try classify(m)
            case nil:
                return nil
            }
        }
    }

    /// Hands every payload that the bytes received so far complete to `body`, straight from the decoder's
    /// buffer (no copy), waiting for more bytes only while none is complete; false at the end of the stream.
    public mutating func nextArrival(_ body: (UnsafeRawBufferPointer) -> Void) async throws -> Bool {
        var delivered = false
        while true {
            // `received` is moved out while the decoder's closure runs (it cannot touch `self`), and back
            // before anything can fail or wait, so error reports always see the payload so far.
            var kept = received
            received = Data()
            var count = 0
            var other: EventStreamMessage??
            repeat {
                do {
                    other = try decoder.nextFrame { f -> EventStreamMessage? in
                        guard f.isPayloadPart else { return f.message() }
                        let p = f.payload
                        count += p.count
                        if kept.count < Self.keep {
                            kept.append(contentsOf: UnsafeRawBufferPointer(rebasing: p.prefix(Self.keep - kept.count)))
                        }
                        if !p.isEmpty {
                            body(p)
                            delivered = true
                        }
                        return nil
                    }
                } catch {
                    received = kept
                    receivedCount += count
                    throw failure(.eventStream(error), code: "EventStreamError", message: error.description)
                }
                if case .some(.some(let m)) = other {
                    received = kept
                    receivedCount += count
                    try classify(m)
                    kept = received
                    received = Data()
                    count = 0
                }
            } while other != nil
            received = kept
            receivedCount += count
            if delivered { return true }
            if try await !readMore() { return false }
        }
    }

    /// Feeds the decoder the next chunk from the network; false at the end of the body.
    mutating func readMore() async throws -> Bool {
        if done { return false }
        let chunk: Data?
        do {
            chunk = try await base.next()
        } catch let e as SageMakerRuntimeError {
            throw e
        } catch let e as HTTPError where classifyTransport != nil {
            let (kind, code, message) = classifyTransport!(e)
            throw failure(kind, code: code, message: message)
        } catch {
            throw failure(.transport, code: "TransportError", message: "\(error)")
        }
        guard let chunk else {
            done = true
            do {
                try decoder.finish()
            } catch {
                throw failure(.eventStream(error), code: "EventStreamError", message: error.description)
            }
            return false
        }
        decoder.feed(chunk)
        return true
    }

    public mutating func next() async throws -> Data? {
        while true {
            if let bytes = try nextBuffered() { return bytes }
            if try await !readMore() { return nil }
        }
    }

    enum Outcome { case payload(Data), other(EventStreamMessage) }

    /// Throws for exception and error frames; other events are skipped.
    func classify(_ m: EventStreamMessage) throws {
        switch m.messageType {
        case "exception":
            let type = m.exceptionType ?? "UnknownException"
            let json = (try? JSONSerialization.jsonObject(with: m.payload)) as? [String: Any] ?? [:]
            let text = (json["Message"] as? String) ?? (json["message"] as? String)
                ?? String(decoding: m.payload.prefix(1000), as: UTF8.self)
            let kind: SageMakerRuntimeError.Kind =
                type == "ModelStreamError" ? .modelStreamError : type == "InternalStreamFailure" ? .internalStreamFailure : .streamError
            var e = failure(kind, code: type, message: text)
            e.errorCode = (json["ErrorCode"] as? String) ?? (json["errorCode"] as? String)
            throw e
        case "error":
            let code = m[header: ":error-code"]?.stringValue ?? "UnknownError"
            let text = m[header: ":error-message"]?.stringValue ?? String(decoding: m.payload.prefix(1000), as: UTF8.self)
            throw failure(.streamError, code: code, message: text)
        default:
            return
        }
    }

    func failure(_ kind: SageMakerRuntimeError.Kind, code: String, message: String) -> SageMakerRuntimeError {
        SageMakerRuntimeError(
            kind: kind, endpointName: endpointName, code: code, message: message, requestId: requestId,
            receivedPayload: received, receivedByteCount: receivedCount)
    }
}
