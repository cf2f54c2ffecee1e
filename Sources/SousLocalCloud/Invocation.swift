import Foundation
import SousBasics
import HTTPTypes
import Hummingbird
import NIOCore
import SousAWS
import SousLLM
import Synchronization

/// One piece of a container's output, or the failure that ended it.
enum OutputChunk: Sendable {
    case bytes([UInt8])
    case failed(String)
}

/// Lets a disconnected client stop its generation.
final class GenerationControl: Sendable {
    private let flag = Mutex(false)
    func cancel() { flag.withLock { $0 = true } }
    var isCancelled: Bool { flag.withLock { $0 } }
}

/// Cuts container output into PayloadParts at arbitrary byte offsets, as SageMaker does (parts do not align
/// with lines, JSON documents or UTF-8 characters), deterministically per request.
struct PayloadCutter {
    private var state: UInt64

    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func cut(_ bytes: [UInt8]) -> [[UInt8]] {
        var out: [[UInt8]] = []
        var i = 0
        while i < bytes.count {
            let n = Int(next() % 24) + 1
            out.append(Array(bytes[i..<min(bytes.count, i + n)]))
            i += n
        }
        return out
    }
}

/// SageMaker Runtime's InvokeEndpoint / InvokeEndpointWithResponseStream against a loaded endpoint.
enum Invocation {
    private static let counter = Atomic<UInt64>(0)

    static func respond(host: EndpointHost, body: [UInt8], streaming: Bool, accountId: String) throws -> Response {
        var formatter: any OutputFormatter
        let request: InvocationRequest
        do {
            switch host.kind {
            case .tgi:
                request = try TGIFormatter.parse(
                    body, maxTotalTokens: host.maxTotalTokens, maxInputTokens: host.maxInputTokens,
                    count: { host.generator.tokenCount($0) })
                formatter = TGIFormatter(
                    stream: request.stream, details: request.details, prompt: request.inputs, returnFullText: request.returnFullText,
                    seed: request.parameters.seed)
            case .lmi:
                let (r, jsonLines) = try LMIFormatter.parse(body, outputFormatter: host.properties["option.output_formatter"])
                request = r
                formatter = LMIFormatter(jsonLines: jsonLines, details: r.details, prompt: r.inputs, returnFullText: r.returnFullText)
            }
        } catch let e as ContainerError {
            // TGI validates a streaming request inside the stream (HTTP 200 + one SSE error event).
            if streaming, host.kind == .tgi, e.status == 422, e.body.first == UInt8(ascii: "{"),
                (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["stream"] as? Bool == true
            {
                return streamResponse(host: host, contentType: "text/event-stream", chunks: single(.bytes(Array("data:".utf8) + e.body + Array("\n\n".utf8))), control: GenerationControl())
            }
            return modelError(host: host, status: e.status, message: String(decoding: e.body, as: UTF8.self), accountId: accountId)
        }
        let control = GenerationControl()
        let chunks = generate(host: host, request: request, formatter: formatter, control: control)
        if streaming {
            return streamResponse(host: host, contentType: formatter.contentType, chunks: chunks, control: control)
        }
        let contentType = formatter.contentType
        return Response(
            status: .ok, headers: headers([("Content-Type", contentType), ("x-Amzn-Invoked-Production-Variant", host.variantName)]),
            body: ResponseBody { writer in
                // InvokeEndpoint answers once the container is done: collect, then send.
                var all: [UInt8] = []
                var failure: String?
                for await c in chunks {
                    switch c {
                    case .bytes(let b): all += b
                    case .failed(let m): failure = m
                    }
                }
                if let failure { all = Array("{\"error\":\(JSONText.quoted(failure))}".utf8) }
                try await writer.write(ByteBuffer(bytes: all))
                try await writer.finish(nil)
            })
    }

    private static func single(_ c: OutputChunk) -> AsyncStream<OutputChunk> {
        AsyncStream { cont in
            cont.yield(c)
            cont.finish()
        }
    }

    static func headers(_ list: [(String, String)]) -> HTTPFields {
        var f = HTTPFields()
        for (n, v) in list { if let name = HTTPField.Name(n) { f[name] = v } }
        f[HTTPField.Name("x-amzn-RequestId")!] = Reply.requestId()
        return f
    }

    static func modelError(host: EndpointHost, status: Int, message: String, accountId: String) -> Response {
        let kind = status < 500 ? "client" : "server"
        let logArn = "arn:aws:logs:local:\(accountId):log-group:/aws/sagemaker/Endpoints/\(host.name)"
        let text = "Received \(kind) error (\(status)) from primary with message \"\(message)\". See the local cloud's log (sous local logs) for more information."
        let obj: [String: Any] = ["message": text, "OriginalStatusCode": status, "OriginalMessage": message, "LogStreamArn": logArn]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data()
        return Reply.bytes(HTTPResponse.Status(code: 424), Array(data), contentType: "application/json", headers: [("x-amzn-ErrorType", "ModelError")])
    }

    /// The event-stream response: each output chunk cut into PayloadParts; a failure becomes ModelStreamError.
    static func streamResponse(host: EndpointHost, contentType: String, chunks: AsyncStream<OutputChunk>, control: GenerationControl) -> Response {
        let seed = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        let h = headers([
            ("Content-Type", "application/vnd.amazon.eventstream"), ("X-Amzn-SageMaker-Content-Type", contentType),
            ("x-Amzn-Invoked-Production-Variant", host.variantName),
        ])
        return Response(
            status: .ok, headers: h,
            body: ResponseBody { writer in
                var cutter = PayloadCutter(seed: seed)
                do {
                    for await c in chunks {
                        switch c {
                        case .bytes(let b):
                            for piece in cutter.cut(b) {
                                let frame = try EventStreamEncoder.encode(.event(type: "PayloadPart", payload: Data(piece)))
                                try await writer.write(ByteBuffer(bytes: frame))
                            }
                        case .failed(let m):
                            let payload = try JSONSerialization.data(
                                withJSONObject: ["Message": m, "ErrorCode": "StreamBroken"], options: [.sortedKeys])
                            try await writer.write(ByteBuffer(bytes: try EventStreamEncoder.encode(.exception(type: "ModelStreamError", payload: payload))))
                        }
                    }
                    try await writer.finish(nil)
                } catch {
                    // The client went away: stop generating.
                    control.cancel()
                    throw error
                }
            })
    }

    /// Runs the generation on the endpoint's serial queue, yielding the container's output bytes.
    static func generate(
        host: EndpointHost, request: InvocationRequest, formatter: any OutputFormatter, control: GenerationControl
    ) -> AsyncStream<OutputChunk> {
        let (stream, cont) = AsyncStream.makeStream(of: OutputChunk.self, bufferingPolicy: .unbounded)
        cont.onTermination = { reason in
            if case .cancelled = reason { control.cancel() }
        }
        nonisolated(unsafe) var f = formatter
        host.queue.async {
            defer { cont.finish() }
            if control.isCancelled || host.isClosed { return }
            func emit(_ b: [UInt8]) { if !b.isEmpty { cont.yield(.bytes(b)) } }
            emit(f.start())
            var pending: TokenEvent?
            var index = 0
            var text = ""
            var stopped = false
            do {
                var reason = try host.generator.generate(prompt: request.inputs, parameters: request.parameters) { tok in
                    if control.isCancelled || host.isClosed { return false }
                    if let p = pending {
                        index += 1
                        emit(f.token(p, index: index, last: false, fullText: text, finish: nil))
                    }
                    pending = tok
                    if !tok.special { text += tok.text }
                    if request.parameters.stop.contains(where: { !$0.isEmpty && text.hasSuffix($0) }) {
                        stopped = true
                        return false
                    }
                    return true
                }
                if control.isCancelled { return }
                if stopped { reason = .stopSequence }
                if let p = pending {
                    index += 1
                    emit(f.token(p, index: index, last: true, fullText: text, finish: reason))
                }
                emit(f.finish(fullText: text, generated: index, reason: reason))
            } catch {
                cont.yield(.failed("The model failed while generating: \(error)"))
            }
        }
        return stream
    }
}
