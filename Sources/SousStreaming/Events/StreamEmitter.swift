/// Receives a parser's output: token text as UTF-8 bytes (valid only during the call), other events as is.
/// `TextBuffer` (behind `StreamTextReader` and `StreamTextSink`) appends the bytes to its buffer without a
/// `String` per token; `ClosureEmitter` builds `StreamEvent`s.
protocol StreamEmitter {
    mutating func text(_ utf8: UnsafeRawBufferPointer, id: Int?, special: Bool)
    mutating func event(_ e: StreamEvent)
}

extension StreamEmitter {
    mutating func text(_ s: String, id: Int?, special: Bool) {
        var t = s
        t.withUTF8 { text(UnsafeRawBufferPointer($0), id: id, special: special) }
    }
}

/// Turns emitter calls into `StreamEvent`s for a closure.
struct ClosureEmitter: StreamEmitter {
    let emit: (StreamEvent) -> Void

    func text(_ utf8: UnsafeRawBufferPointer, id: Int?, special: Bool) {
        emit(.token(text: String(decoding: utf8, as: UTF8.self), id: id, special: special))
    }

    func event(_ e: StreamEvent) { emit(e) }

    /// Runs `body` with an emitter that hands events to `emit` (the closure form of every parser's `feed` and
    /// `finish`, over the generic core that writes text as bytes).
    static func with(_ emit: (StreamEvent) -> Void, _ body: (inout ClosureEmitter) -> Void) {
        withoutActuallyEscaping(emit) { f in
            var e = ClosureEmitter(emit: f)
            body(&e)
        }
    }
}
