import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousStreaming

/// `sagemaker.invoke-stream`: asks an LLM endpoint and prints the answer token by token, like the
/// notebooks' `get_realtime_response_stream` + `print_response_stream`.
struct InvokeStreamKind: StepKind {
    let schema = StepKindSchema(
        kind: "sagemaker.invoke-stream", version: 1, category: .effect,
        summary: "Ask a SageMaker LLM endpoint (TGI or LMI) and print the answer as it streams; never cached.",
        inputs: [
            InputSpec("endpoint", .string, required: true, "the endpoint name"),
            InputSpec("prompt", .string, "the model input, sent as is (already formatted, like the notebooks' build_llama2_prompt output)"),
            InputSpec("user", .string, "the question; rendered with 'template' (and 'system')"),
            InputSpec("system", .string, "the system prompt, with 'user' or 'messages'"),
            InputSpec("messages", .list, "a conversation: a list of {role: system|user|assistant, content: …}, rendered with 'template'"),
            InputSpec(
                "template", .string, default: .string(PromptTemplate.llama2Chat.rawValue),
                allowed: PromptTemplate.allCases.map(\.rawValue), "prompt format for 'user'/'messages'"),
            InputSpec("payload", .map, "a complete request body sent as is (instead of a prompt and parameters)"),
            InputSpec(
                "container", .string, default: "auto",
                "parameter dialect: tgi, lmi, or auto (TGI unless given the endpoint's image URI as a hint)"),
            InputSpec("parameters", .map, "generation parameters: max_new_tokens, temperature, top_p, top_k, repetition_penalty, do_sample, stop, return_full_text, seed, details"),
            InputSpec("custom_attributes", .string, default: "accept_eula=true", "X-Amzn-SageMaker-Custom-Attributes"),
            InputSpec(
                "format", .string, default: "auto", allowed: StreamFormat.allCases.map(\.rawValue),
                "the container's output format (auto: from the content type and first bytes)"),
            InputSpec("stream", .bool, default: .bool(true), "stream the answer (InvokeEndpointWithResponseStream); false: InvokeEndpoint"),
            InputSpec("target_variant", .string, "production variant to call"),
            InputSpec("inference_component", .string, "inference component to call"),
            InputSpec("session_id", .string, "stateful session id"),
            InputSpec("region", .string, "AWS region (default: AWS_REGION / the profile's region)"),
            InputSpec("idle_timeout", .number, default: .int(60), "seconds without a byte of the answer before the call fails (a stuck model)"),
            InputSpec("deadline", .number, default: .int(900), "seconds the whole call may take, retries and the streamed answer included (a stream that trickles forever)"),
        ],
        outputs: [
            OutputSpec("text", .string, "the answer (special tokens left out)"),
            OutputSpec("tokens", .int, "tokens generated (the container's count when it sends details, else the pieces printed)"),
            OutputSpec("time_to_first_token_s", .number, "seconds from the request to the first text"),
            OutputSpec("tokens_per_second", .number, "tokens per second after the first one"),
            OutputSpec("finish_reason", .string, "length, eos_token, stop_sequence, or stop"),
            OutputSpec(
                "arrivals_ms", .list,
                "milliseconds from the request to each token's arrival (tokens read together share a time); an answer of more than \(InvokeStreamKind.arrivalLimit) tokens lists \(InvokeStreamKind.arrivalLimit) evenly spaced ones, first and last included"),
        ])

    /// The most token arrival times a step records (the run record charts them).
    static let arrivalLimit = 2000

    /// `arrivals` (milliseconds) rounded to 0.1 ms, at most `limit` of them: evenly spaced, first and last kept.
    static func arrivalsOutput(_ arrivals: [Double], limit: Int = arrivalLimit) -> Value {
        func ms(_ x: Double) -> Value { .number((x * 10).rounded() / 10) }
        guard arrivals.count > limit, limit > 1 else { return .list(arrivals.map(ms)) }
        let last = Double(arrivals.count - 1)
        return .list((0..<limit).map { j in ms(arrivals[Int((Double(j) * last / Double(limit - 1)).rounded())]) })
    }

    func planDetails(inputs: ValueMap) -> [String] {
        guard let endpoint = inputs["endpoint"]?.stringValue else { return [] }
        let op = inputs["stream"]?.boolValue == false ? "InvokeEndpoint" : "InvokeEndpointWithResponseStream"
        return ["\(op) \(endpoint)"]
    }

    /// The request the step sends, built and checked without any call.
    static func request(_ ctx: StepContext) throws -> InvocationRequest {
        do {
            let endpoint = try ctx.string("endpoint")
            let stream = ctx.inputs["stream"]?.boolValue ?? true
            let format = try InvocationPayload.format(ctx.optionalString("format") ?? "auto")
            let body: Data
            var maxNewTokens: Int?
            if let payload = ctx.inputs["payload"], payload != .null {
                for other in ["prompt", "user", "messages", "parameters"] where ctx.inputs[other].map({ $0 != .null }) == true {
                    throw InvocationInputError("give 'payload' (a complete body) or '\(other)', not both")
                }
                body = Data(payload.jsonString().utf8)
                maxNewTokens = payload.mapValue?["parameters"]?.mapValue?["max_new_tokens"]?.intValue
            } else {
                let prompt = try prompt(ctx)
                let dialect = try InvocationPayload.dialect(container: ctx.optionalString("container"))
                let parameters = try InvocationPayload.parameters(ctx.map("parameters"))
                body = try InvocationPayload.body(prompt: prompt, parameters: parameters, dialect: dialect, stream: stream)
                maxNewTokens = parameters.maxNewTokens
            }
            let attrs = ctx.optionalString("custom_attributes")
            return InvocationRequest(
                endpoint: endpoint, body: body, format: format, stream: stream,
                customAttributes: attrs?.isEmpty == true ? nil : attrs, targetVariant: ctx.optionalString("target_variant"),
                inferenceComponent: ctx.optionalString("inference_component"), sessionId: ctx.optionalString("session_id"),
                maxNewTokens: maxNewTokens)
        } catch let e as InvocationInputError {
            throw StepError(e.description)
        } catch let e as GenerationParameterError {
            throw StepError(e.description + " (nothing was sent to the endpoint)")
        }
    }

    /// The model input: `prompt` as is, or `user`/`messages` (+ `system`) rendered with `template`.
    static func prompt(_ ctx: StepContext) throws -> String {
        let given = ["prompt", "user", "messages"].filter { ctx.inputs[$0].map { $0 != .null } == true }
        guard given.count == 1 else {
            throw InvocationInputError(
                given.isEmpty
                    ? "give the question as 'user' (formatted with 'template'), 'messages', 'prompt' (sent as is) or 'payload'"
                    : "give only one of 'prompt', 'user' and 'messages' (got \(given.map { "'\($0)'" }.joined(separator: " and ")))")
        }
        if let p = ctx.optionalString("prompt") {
            if ctx.optionalString("system") != nil {
                throw InvocationInputError("'system' is used with 'user' or 'messages'; 'prompt' is sent as is")
            }
            return p
        }
        let template = try InvocationPayload.template(ctx.optionalString("template") ?? PromptTemplate.llama2Chat.rawValue)
        var messages: [ChatMessage] = []
        if let system = ctx.optionalString("system") { messages.append(.system(system)) }
        if let user = ctx.optionalString("user") {
            messages.append(.user(user))
        } else {
            let list = try InvocationPayload.messages(ctx.list("messages"))
            if !messages.isEmpty && list.first?.role == .system {
                throw InvocationInputError("give the system prompt in 'system' or in 'messages', not both")
            }
            messages += list
        }
        return template.render(messages)
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let request = try Self.request(ctx)
        let region = ctx.optionalString("region").flatMap { $0.isEmpty ? nil : $0 }
        let aws = try await AWSClient.make(environment: ctx.environment, region: region)
        var client = SageMakerRuntimeClient(aws: aws)
        do {
            client.limits = try InvocationLimits(idleTimeout: ctx.double("idle_timeout"), deadline: ctx.double("deadline"))
        } catch {
            throw StepError(error.description)
        }
        client.onRetry = { ctx.log($0) }
        let op = request.stream ? "InvokeEndpointWithResponseStream" : "InvokeEndpoint"
        ctx.log("\(op) \(request.endpoint) in \(aws.region) (\(request.body.count) bytes)")
        ctx.progress("waiting for the first token")
        let result: InvocationResult
        do {
            result = try await EndpointInvoker.invoke(request, client: client) { ctx.write($0) }
        } catch let e as InvocationError {
            if e.kind == .cancelled { throw CancellationError() }
            throw StepError(e.description)
        } catch let e as SageMakerRuntimeError {
            throw StepError(e.description)
        }
        ctx.log(result.summaryLine)
        return [
            "text": .string(ctx.redact(result.text)), "tokens": .int(result.tokens),
            "time_to_first_token_s": result.timeToFirstToken.map(Value.number) ?? .null,
            "tokens_per_second": .number(result.tokensPerSecond), "finish_reason": .string(result.finishReason),
            "arrivals_ms": Self.arrivalsOutput(result.tokenArrivals),
        ]
    }
}
