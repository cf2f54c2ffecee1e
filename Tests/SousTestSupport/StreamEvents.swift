public import SousStreaming

/// Concatenates the printable text of `events` (tokens that are not special).
public func printableText(_ events: [StreamEvent]) -> String {
    var s = ""
    for e in events {
        if case .token(let text, _, let special) = e, !special { s += text }
    }
    return s
}
