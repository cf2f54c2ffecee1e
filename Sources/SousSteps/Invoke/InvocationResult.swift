import Foundation

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
