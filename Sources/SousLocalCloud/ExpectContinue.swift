import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// `Expect: 100-continue` (botocore's PutObject and UploadPart, curl, the CRT): the interim `100 Continue` goes out
/// when the request's handler starts reading the body (``RequestPayload`` sends ``SendContinue`` down the pipeline),
/// so a request refused on its headers alone (a bad signature, no such bucket) never makes its client send the body.
/// Such a refusal goes out with `Connection: close` and the connection closes after it, as RFC 9110 §10.1.1 asks of
/// a server that answers before reading a body it did not ask for.
final class ExpectContinueHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// The outbound user event that lets the body come.
    struct SendContinue: Sendable {}

    /// The current request waits for `100 Continue`.
    private var waiting = false
    /// The response being written refuses a request whose body never came: close once it is out.
    private var closeAfterResponse = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) {
            waiting = head.headerFields[.expect]?.lowercased() == "100-continue"
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is SendContinue else { return context.triggerUserOutboundEvent(event, promise: promise) }
        if waiting {
            waiting = false
            context.writeAndFlush(wrapOutboundOut(.head(HTTPResponse(status: .continue))), promise: nil)
        }
        promise?.succeed()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where waiting && head.status.kind != .informational:
            waiting = false
            closeAfterResponse = true
            head.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(head)), promise: promise)
        case .end where closeAfterResponse:
            closeAfterResponse = false
            context.writeAndFlush(data, promise: promise)
            context.close(promise: nil)
        default:
            context.write(data, promise: promise)
        }
    }
}

/// Lets a connection read up to 1 MiB at a time (NIO's default stops at 64 KiB): an upload's body then reaches
/// the handler in a sixteenth as many pieces, each one a hop from the event loop to the request's task.
final class LargeReadsHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart

    func handlerAdded(context: ChannelHandlerContext) {
        let allocator = AdaptiveRecvByteBufferAllocator(minimum: 64 << 10, initial: 256 << 10, maximum: 1 << 20)
        context.channel.setOption(ChannelOptions.recvAllocator, value: allocator).whenComplete { _ in }
    }
}
