import ArgumentParser
import Foundation
import SousAWS
import SousRecipe
import SousSteps
import SousStreaming
import Synchronization

/// Options shared by `sous invoke` and `sous chat`.
struct EndpointOptions: ParsableArguments {
    @Argument(help: "The SageMaker endpoint name.")
    var endpoint: String

    @Option(help: "Prompt format (raw sends the text as is).")
    var template: PromptTemplate = .llama2Chat

    @Option(help: "System prompt.")
    var system: String?

    @Option(help: ArgumentHelp("Parameter dialect: tgi, lmi, or auto (TGI unless given the image URI).", valueName: "tgi|lmi|auto"))
    var container: String = "auto"

    @Option(help: ArgumentHelp("The container's output format.", valueName: "auto|tgi|lmi|jsonlines|raw"))
    var format: StreamFormat = .auto

    @Option(name: .customLong("max-new-tokens"), help: "Maximum tokens to generate.")
    var maxNewTokens: Int = 512

    @Option(help: "Sampling temperature (> 0).")
    var temperature: Double?

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (TGI: strictly between 0 and 1).")
    var topP: Double?

    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens.")
    var topK: Int?

    @Option(name: .customLong("repetition-penalty"), help: "Penalty for repeated tokens (> 0; 1 = none).")
    var repetitionPenalty: Double?

    @Flag(name: .customLong("do-sample"), help: "Sample (instead of greedy decoding).")
    var doSample = false

    @Option(help: "Stop sequence (repeatable; default: the template's end-of-turn marker).")
    var stop: [String] = []

    @Option(help: "Random seed.")
    var seed: UInt64?

    @Option(name: .customLong("custom-attributes"), help: "X-Amzn-SageMaker-Custom-Attributes.")
    var customAttributes: String = "accept_eula=true"

    @Option(help: "AWS region (default: AWS_REGION or the profile's).")
    var region: String?

    @Option(name: .customLong("target-variant"), help: .hidden)
    var targetVariant: String?

    @Option(name: .customLong("inference-component"), help: .hidden)
    var inferenceComponent: String?

    @Flag(name: .customLong("no-stream"), help: "Wait for the whole answer (InvokeEndpoint) instead of streaming it.")
    var noStream = false

    @Flag(help: "Print one JSON object per token ({\"text\": …}) and a summary object per answer.")
    var json = false

    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Seconds without a byte of the answer before giving up (default 60).", valueName: "seconds"))
    var idleTimeout: Double?

    @Option(help: ArgumentHelp("Seconds the whole call may take, retries and the streamed answer included (default 900).", valueName: "seconds"))
    var deadline: Double?

    @Flag(name: .shortAndLong, help: "Show retries on stderr.")
    var verbose = false

    /// The checked settings; prints the problem and exits 2 when one is invalid.
    func settings() throws -> InvocationSettings {
        do {
            let t = template
            let f = format
            let dialect = try InvocationPayload.dialect(container: container)
            var p = GenerationParameters(
                maxNewTokens: maxNewTokens, temperature: temperature, topP: topP, topK: topK,
                repetitionPenalty: repetitionPenalty, doSample: doSample ? true : nil,
                stop: stop.isEmpty ? t.stopSequences : stop, returnFullText: false, seed: seed)
            if !doSample && (temperature != nil || topP != nil || topK != nil) { p.doSample = true }
            let limits = try InvocationLimits(idleTimeout: idleTimeout, deadline: deadline)
            let s = InvocationSettings(options: self, template: t, format: f, dialect: dialect, parameters: p, limits: limits)
            _ = try s.request(messages: [.user("check")])  // parameters are checked before any input is read
            return s
        } catch let e as InvocationInputError {
            Console.err("error: \(e.description)\n")
            throw ExitStatus.invalid
        } catch let e as GenerationParameterError {
            Console.err("error: \(e.description.replacingOccurrences(of: "in the recipe's parameters", with: "on the command line"))\n")
            throw ExitStatus.invalid
        }
    }
}

/// Everything needed to turn a conversation into a request.
struct InvocationSettings: Sendable {
    var endpoint: String
    var template: PromptTemplate
    var format: StreamFormat
    var dialect: GenerationDialect
    var parameters: GenerationParameters
    var stream: Bool
    var customAttributes: String?
    var targetVariant: String?
    var inferenceComponent: String?
    var region: String?
    var json: Bool
    var limits: InvocationLimits
    var verbose: Bool

    init(
        options o: EndpointOptions, template: PromptTemplate, format: StreamFormat, dialect: GenerationDialect,
        parameters: GenerationParameters, limits: InvocationLimits
    ) {
        endpoint = o.endpoint
        self.template = template
        self.format = format
        self.dialect = dialect
        self.parameters = parameters
        stream = !o.noStream
        customAttributes = o.customAttributes.isEmpty ? nil : o.customAttributes
        targetVariant = o.targetVariant
        inferenceComponent = o.inferenceComponent
        region = o.region
        json = o.json
        self.limits = limits
        verbose = o.verbose
    }

    func request(messages: [ChatMessage]) throws -> InvocationRequest {
        let prompt = template.render(messages)
        let body = try InvocationPayload.body(prompt: prompt, parameters: parameters, dialect: dialect, stream: stream)
        return InvocationRequest(
            endpoint: endpoint, body: body, format: format, stream: stream, customAttributes: customAttributes,
            targetVariant: targetVariant, inferenceComponent: inferenceComponent, maxNewTokens: parameters.maxNewTokens)
    }

    /// The runtime client, configured from the environment like the recipe steps.
    func client() async throws -> SageMakerRuntimeClient {
        do {
            let aws = try await AWSClient.make(environment: ProcessInfo.processInfo.environment, region: region)
            var client = SageMakerRuntimeClient(aws: aws)
            client.limits = limits
            if verbose { client.onRetry = { Console.err("\($0)\n") } }
            return client
        } catch {
            Console.err("error: \(error)\n")
            throw ExitStatus.stepFailed
        }
    }

    /// Prints one token (text, or a JSON line).
    func printToken(_ t: String) {
        if json {
            Console.out(Value.map(["text": .string(t)]).jsonString() + "\n")
        } else {
            Console.out(t)
        }
    }

    /// After an answer: a newline on stdout and the timing on stderr, or the JSON summary.
    func printSummary(_ r: InvocationResult, error: String? = nil) {
        if json {
            var m: ValueMap = [
                "text": .string(r.text), "tokens": .int(r.tokens),
                "time_to_first_token_s": r.timeToFirstToken.map(Value.number) ?? .null,
                "tokens_per_second": .number(r.tokensPerSecond), "finish_reason": .string(r.finishReason),
            ]
            if let error { m["error"] = .string(error) }
            Console.out(Value.map(m).jsonString() + "\n")
        } else {
            if !r.text.isEmpty && !r.text.hasSuffix("\n") { Console.out("\n") }
            Console.err(r.summaryLine + "\n")
        }
    }
}

/// `sous invoke ENDPOINT --prompt …`: one question, the answer streamed to stdout.
struct InvokeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "invoke",
        abstract: "Ask a SageMaker LLM endpoint one question and stream the answer.",
        discussion: """
            The prompt is formatted with --template (default llama-2-chat, like the notebooks' \
            build_llama2_prompt; --template raw sends it as is). The answer streams to stdout; time to first \
            token and tokens/s go to stderr. AWS credentials, region and endpoint overrides \
            (AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME) come from the environment, as for `sous run`.
            """)

    @OptionGroup var options: EndpointOptions

    @Option(help: "The question (or the whole input with --template raw).")
    var prompt: String

    func run() async throws {
        let settings = try options.settings()
        var messages: [ChatMessage] = []
        if let s = options.system { messages.append(.system(s)) }
        messages.append(.user(prompt))
        let request = try settings.request(messages: messages)
        let client = try await settings.client()
        do {
            let r = try await withInterruptHandling {
                try await EndpointInvoker.invoke(request, client: client, perToken: settings.json) { settings.printToken($0) }
            }
            settings.printSummary(r)
        } catch let e as InvocationError {
            if !settings.json && !e.partial.text.isEmpty && !e.partial.text.hasSuffix("\n") { Console.out("\n") }
            if settings.json { settings.printSummary(e.partial, error: e.description) }
            if e.kind == .cancelled { throw ExitStatus.interrupted }
            Console.err("error: \(e.description)\n")
            throw ExitStatus.stepFailed
        } catch let e as SageMakerRuntimeError {
            Console.err("error: \(e.description)\n")
            throw ExitStatus.stepFailed
        }
    }
}

/// `sous chat ENDPOINT`: a conversation read line by line from stdin.
struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with a SageMaker LLM endpoint (reads lines from stdin).",
        discussion: """
            Each line is a question; the conversation so far is sent with it, formatted with --template. \
            Commands: /reset (forget the conversation), /system TEXT (set the system prompt; /system alone \
            clears it), /exit. Ctrl-C stops the current answer and keeps the chat; at the prompt it quits. \
            A failed answer is reported and the chat goes on.
            """)

    @OptionGroup var options: EndpointOptions

    func run() async throws {
        let settings = try options.settings()
        let client = try await settings.client()
        let session = ChatSession(settings: settings, client: client, system: options.system)
        await session.run()
    }
}

/// The state of one `sous chat`.
final class ChatSession: Sendable {
    let settings: InvocationSettings
    let client: SageMakerRuntimeClient
    private let current = Mutex<Task<InvocationResult, any Error>?>(nil)
    private let interactive = isatty(STDIN_FILENO) == 1

    struct Conversation {
        var system: String?
        var turns: [ChatMessage] = []
    }
    private let conversation: Mutex<Conversation>

    init(settings: InvocationSettings, client: SageMakerRuntimeClient, system: String?) {
        self.settings = settings
        self.client = client
        conversation = Mutex(Conversation(system: system))
    }

    /// SIGINT stops the answer being generated; with none running it ends the chat.
    private func installInterruptHandler() -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "sous.chat.signals"))
        source.setEventHandler { [self] in
            if let task = current.withLock({ $0 }) {
                task.cancel()
            } else {
                Console.err("\n")
                exit(130)
            }
        }
        source.resume()
        return source
    }

    func run() async {
        let source = installInterruptHandler()
        defer { source.cancel() }
        if interactive {
            Console.err("chatting with \(settings.endpoint) (\(settings.template.rawValue)); /reset, /system TEXT, /exit; Ctrl-C stops an answer\n")
        }
        while true {
            if interactive { Console.out("> ") }
            guard let line = readLine(strippingNewline: true) else { break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text.hasPrefix("/") {
                if !command(text) { break }
                continue
            }
            await ask(text)
        }
    }

    /// Handles a `/command`; returns false to end the chat.
    func command(_ text: String) -> Bool {
        let name = text.split(separator: " ", maxSplits: 1).first.map(String.init) ?? text
        let arg = text.dropFirst(name.count).trimmingCharacters(in: .whitespaces)
        switch name {
        case "/exit", "/quit":
            return false
        case "/reset":
            conversation.withLock { $0.turns = [] }
            Console.err("(conversation cleared)\n")
        case "/system":
            conversation.withLock { $0.system = arg.isEmpty ? nil : arg }
            Console.err(arg.isEmpty ? "(system prompt cleared)\n" : "(system prompt set)\n")
        case "/help":
            Console.err("/reset forgets the conversation · /system TEXT sets the system prompt · /exit quits\n")
        default:
            Console.err("unknown command \(name); use /reset, /system TEXT or /exit\n")
        }
        return true
    }

    func ask(_ question: String) async {
        let messages = conversation.withLock { c in
            (c.system.map { [ChatMessage.system($0)] } ?? []) + c.turns + [.user(question)]
        }
        let request: InvocationRequest
        do {
            request = try settings.request(messages: messages)
        } catch {
            Console.err("error: \(error)\n")
            return
        }
        let settings = self.settings
        let client = self.client
        let task = Task {
            try await EndpointInvoker.invoke(request, client: client, perToken: settings.json) { settings.printToken($0) }
        }
        current.withLock { $0 = task }
        defer { current.withLock { $0 = nil } }
        do {
            let r = try await task.value
            settings.printSummary(r)
            conversation.withLock { $0.turns += [.user(question), .assistant(r.text)] }
        } catch let e as InvocationError {
            if !settings.json && !e.partial.text.isEmpty && !e.partial.text.hasSuffix("\n") { Console.out("\n") }
            if settings.json { settings.printSummary(e.partial, error: e.description) }
            if e.kind == .cancelled {
                Console.err("(answer stopped)\n")
                // The stopped answer stays in the conversation, as printed.
                if !e.partial.text.isEmpty {
                    conversation.withLock { $0.turns += [.user(question), .assistant(e.partial.text)] }
                }
            } else {
                Console.err("error: \(e.description)\n")
            }
        } catch {
            Console.err("error: \(error)\n")
        }
    }
}
