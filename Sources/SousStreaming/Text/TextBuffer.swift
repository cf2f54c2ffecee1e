/// Printable text gathered as UTF-8 bytes, with what an answer's summary needs (shared by `StreamTextSink`
/// and `StreamTextReader`).
struct TextBuffer: StreamEmitter {
    var bytes: [UInt8] = []
    var tokens = 0
    var textBytes = 0
    var lastWasSpecial = false
    var errors: [String] = []
    var finalText: String?
    var finalDetails: StreamDetails?
    var sawFinal = false

    mutating func text(_ utf8: UnsafeRawBufferPointer, id: Int?, special: Bool) {
        lastWasSpecial = special
        guard !special else { return }
        tokens += 1
        bytes.append(contentsOf: utf8)
    }

    mutating func event(_ e: StreamEvent) {
        switch e {
        case .token(let text, let id, let special):
            self.text(text, id: id, special: special)
        case .final(let generated, let details):
            sawFinal = true
            finalText = generated
            if let details { finalDetails = details }
        case .error(let message):
            errors.append(message)
        }
    }
}
