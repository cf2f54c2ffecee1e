/// Plain text: bytes are emitted as they arrive, holding back an incomplete UTF-8 character.
public struct RawStreamParser: StreamParser {
    private var carry: [UInt8] = []

    public init() {}

    public mutating func feed(_ bytes: UnsafeRawBufferPointer, _ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { feed(bytes, into: &$0) }
    }

    public mutating func finish(_ emit: (StreamEvent) -> Void) {
        ClosureEmitter.with(emit) { finish(into: &$0) }
    }

    mutating func feed<E: StreamEmitter>(_ bytes: UnsafeRawBufferPointer, into e: inout E) {
        guard !bytes.isEmpty else { return }
        if carry.isEmpty {
            let keep = incompleteUTF8Suffix(bytes)
            if bytes.count > keep {
                e.text(UnsafeRawBufferPointer(rebasing: bytes[0..<(bytes.count - keep)]), id: nil, special: false)
            }
            carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - keep)...]))
            return
        }
        carry.append(contentsOf: bytes)
        let keep = carry.withUnsafeBytes { incompleteUTF8Suffix($0) }
        if carry.count > keep {
            carry.withUnsafeBytes { e.text(UnsafeRawBufferPointer(rebasing: $0[0..<(carry.count - keep)]), id: nil, special: false) }
            carry.removeFirst(carry.count - keep)
        }
    }

    mutating func finish<E: StreamEmitter>(into e: inout E) {
        if !carry.isEmpty {
            carry.withUnsafeBytes { e.text($0, id: nil, special: false) }
            carry = []
        }
        e.event(.final(generatedText: nil, details: nil))
    }
}
