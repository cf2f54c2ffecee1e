import Foundation
public import SousAWS

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
