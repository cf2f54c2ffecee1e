import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousStreaming

/// `sagemaker.invoke-stream`: asks an LLM endpoint and prints the answer token by token, like the
/// notebooks' `get_realtime_response_stream` + `print_response_stream`.
struct InvokeStreamKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "sagemaker.invoke-stream", version: 1, category: .effect,
        summary: "Ask a SageMaker LLM endpoint (TGI or LMI) and print the answer as it streams; never cached.")

    struct Inputs: StepInputs {
        @Input("the endpoint name") var endpoint: String
        @Input("the model input, sent as is (already formatted, like the notebooks' build_llama2_prompt output)") var prompt: String?
        @Input("the question; rendered with 'template' (and 'system')") var user: String?
        @Input("the system prompt, with 'user' or 'messages'") var system: String?
        @Input("a conversation: a list of {role: system|user|assistant, content: …}, rendered with 'template'") var messages: [Value]?
        @Input(
            default: .string(PromptTemplate.llama2Chat.rawValue), allowed: PromptTemplate.allCases.map(\.rawValue),
            "prompt format for 'user'/'messages'")
        var template: String
        @Input("a complete request body sent as is (instead of a prompt and parameters)") var payload: ValueMap?
        @Input(default: "auto", "parameter dialect: tgi, lmi, or auto (TGI unless given the endpoint's image URI as a hint)") var container: String
        @Input("generation parameters: max_new_tokens, temperature, top_p, top_k, repetition_penalty, do_sample, stop, return_full_text, seed, details")
        var parameters: ValueMap?
        @Input(default: "accept_eula=true", "X-Amzn-SageMaker-Custom-Attributes") var customAttributes: String
        @Input(
            default: "auto", allowed: StreamFormat.allCases.map(\.rawValue), "the container's output format (auto: from the content type and first bytes)")
        var format: String
        @Input(default: true, "stream the answer (InvokeEndpointWithResponseStream); false: InvokeEndpoint") var stream: Bool
        @Input("production variant to call") var targetVariant: String?
        @Input("inference component to call") var inferenceComponent: String?
        @Input("stateful session id") var sessionId: String?
        @Input("AWS region (default: AWS_REGION / the profile's region)") var region: String?
        @Input(default: 60, "seconds without a byte of the answer before the call fails (a stuck model)") var idleTimeout: Double
        @Input(
            default: 900, "seconds the whole call may take, retries and the streamed answer included (a stream that trickles forever)")
        var deadline: Double
    }

    struct Outputs: StepOutputs {
        @Output("the answer (special tokens left out)") var text: String
        @Output("tokens generated (the container's count when it sends details, else the pieces printed)") var tokens: Int
        @Output("seconds from the request to the first text") var timeToFirstTokenS: Double?
        @Output("tokens per second after the first one") var tokensPerSecond: Double
        @Output("length, eos_token, stop_sequence, or stop") var finishReason: String
        @Output(
            "milliseconds from the request to each token's arrival (tokens read together share a time); an answer of more than \(InvokeStreamKind.arrivalLimit) tokens lists \(InvokeStreamKind.arrivalLimit) evenly spaced ones, first and last included"
        )
        var arrivalsMs: [Value]
    }

    /// The most token arrival times a step records (the run record charts them).
    static let arrivalLimit = 2000

    /// `arrivals` (milliseconds) rounded to 0.1 ms, at most `limit` of them: evenly spaced, first and last kept.
    static func arrivalsOutput(_ arrivals: [Double], limit: Int = arrivalLimit) -> [Value] {
        func ms(_ x: Double) -> Value { .number((x * 10).rounded() / 10) }
        guard arrivals.count > limit, limit > 1 else { return arrivals.map(ms) }
        let last = Double(arrivals.count - 1)
        return (0..<limit).map { j in ms(arrivals[Int((Double(j) * last / Double(limit - 1)).rounded())]) }
    }

    func planDetails(_ inputs: Inputs) -> [String] {
        ["\(inputs.stream ? "InvokeEndpointWithResponseStream" : "InvokeEndpoint") \(inputs.endpoint)"]
    }

    /// The request the step sends, built and checked without any call.
    static func request(_ inputs: Inputs) throws -> InvocationRequest {
        do {
            let format = try InvocationPayload.format(inputs.format)
            let body: Data
            var maxNewTokens: Int?
            if let payload = inputs.payload {
                let others = [("prompt", inputs.prompt != nil), ("user", inputs.user != nil), ("messages", inputs.messages != nil), ("parameters", inputs.parameters != nil)]
                if let other = others.first(where: \.1)?.0 {
                    throw InvocationInputError("give 'payload' (a complete body) or '\(other)', not both")
                }
                body = Data(Value.map(payload).jsonString().utf8)
                maxNewTokens = payload["parameters"]?.mapValue?["max_new_tokens"]?.intValue
            } else {
                let prompt = try prompt(inputs)
                let dialect = try InvocationPayload.dialect(container: inputs.container)
                let parameters = try InvocationPayload.parameters(inputs.parameters ?? ValueMap())
                body = try InvocationPayload.body(prompt: prompt, parameters: parameters, dialect: dialect, stream: inputs.stream)
                maxNewTokens = parameters.maxNewTokens
            }
            return InvocationRequest(
                endpoint: inputs.endpoint, body: body, format: format, stream: inputs.stream,
                customAttributes: inputs.customAttributes.isEmpty ? nil : inputs.customAttributes, targetVariant: inputs.targetVariant,
                inferenceComponent: inputs.inferenceComponent, sessionId: inputs.sessionId, maxNewTokens: maxNewTokens)
        } catch let e as InvocationInputError {
            throw StepError(e.description)
        } catch let e as GenerationParameterError {
            throw StepError(e.description + " (nothing was sent to the endpoint)")
        }
    }

    /// The model input: `prompt` as is, or `user`/`messages` (+ `system`) rendered with `template`.
    static func prompt(_ inputs: Inputs) throws -> String {
        let given = [("prompt", inputs.prompt != nil), ("user", inputs.user != nil), ("messages", inputs.messages != nil)].filter(\.1).map(\.0)
        guard given.count == 1 else {
            throw InvocationInputError(
                given.isEmpty
                    ? "give the question as 'user' (formatted with 'template'), 'messages', 'prompt' (sent as is) or 'payload'"
                    : "give only one of 'prompt', 'user' and 'messages' (got \(given.map { "'\($0)'" }.joined(separator: " and ")))")
        }
        if let p = inputs.prompt {
            if inputs.system != nil {
                throw InvocationInputError("'system' is used with 'user' or 'messages'; 'prompt' is sent as is")
            }
            return p
        }
        let template = try InvocationPayload.template(inputs.template)
        var messages: [ChatMessage] = []
        if let system = inputs.system { messages.append(.system(system)) }
        if let user = inputs.user {
            messages.append(.user(user))
        } else {
            let list = try InvocationPayload.messages(inputs.messages ?? [])
            if !messages.isEmpty && list.first?.role == .system {
                throw InvocationInputError("give the system prompt in 'system' or in 'messages', not both")
            }
            messages += list
        }
        return template.render(messages)
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let request = try Self.request(inputs)
        let region = inputs.region.flatMap { $0.isEmpty ? nil : $0 }
        let aws = try await AWSClient.make(environment: ctx.environment, region: region)
        var client = SageMakerRuntimeClient(aws: aws)
        do {
            client.limits = try InvocationLimits(idleTimeout: inputs.idleTimeout, deadline: inputs.deadline)
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
        var outputs = Outputs()
        outputs.text = ctx.redact(result.text)
        outputs.tokens = result.tokens
        outputs.timeToFirstTokenS = result.timeToFirstToken
        outputs.tokensPerSecond = result.tokensPerSecond
        outputs.finishReason = result.finishReason
        outputs.arrivalsMs = Self.arrivalsOutput(result.tokenArrivals)
        return outputs
    }
}
