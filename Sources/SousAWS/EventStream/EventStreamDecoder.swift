public import Foundation
import SousCrypto

/// Incremental event-stream decoder: a pure state machine. Feed it bytes as they arrive (in any
/// slicing), then call `nextMessage()` until it returns nil (= needs more bytes).
///
/// Validation order follows botocore: the prelude CRC is checked before the lengths are trusted,
/// the message CRC before the headers are parsed. Any error is fatal: every later call throws it again.
public struct EventStreamDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    private var failure: EventStreamError?
    /// Length of the frame at `start` once its prelude has been validated.
    private var pendingTotal = 0
    /// The last validated header block: AWS repeats the same headers on every PayloadPart, so an identical
    /// block needs no second validation.
    private var headerCache = HeaderCache()
    /// Frames longer than this are rejected before they are buffered.
    public let maxMessageLength: Int

    public init(maxMessageLength: Int = EventStreamLimits.maxMessageLength) {
        self.maxMessageLength = maxMessageLength
    }

    /// Bytes received but not yet returned as a message.
    public var bufferedByteCount: Int { buffer.count - start }

    /// Appends received bytes.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, !bytes.isEmpty else { return }
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start >= 65_536 && start * 2 >= buffer.count {
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes.bindMemory(to: UInt8.self))
    }

    /// Appends received bytes.
    public mutating func feed(_ data: Data) {
        data.withUnsafeBytes { feed($0) }
    }

    /// Appends received bytes.
    public mutating func feed(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Decodes every frame completed by `bytes`, calling `body` with each (in place: frames that lie wholly
    /// inside `bytes` are not copied), and keeps an incomplete trailing frame for the next call. Equivalent
    /// to `feed(bytes)` followed by `nextFrame(body)` until nil.
    /// - Throws: `EventStreamError` after delivering the frames that precede the bad one.
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, _ body: (EventStreamFrameView) -> Void) throws(EventStreamError) {
        if let failure { throw failure }
        var rest = bytes
        if buffer.count > start {
            // Complete the buffered frame with just the bytes it needs.
            let have = buffer.count - start
            if have < 12 {
                let take = min(12 - have, rest.count)
                buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if buffer.count - start < 12 { return }
            }
            if pendingTotal == 0 {
                let result: Result<Int, EventStreamError> = buffer.withUnsafeBytes { raw in
                    Self.checkPrelude(UnsafeRawBufferPointer(rebasing: raw[start..<start + 12]), limit: maxMessageLength)
                }
                switch result {
                case .success(let total): pendingTotal = total
                case .failure(let e): try fail(e)
                }
            }
            let need = pendingTotal - (buffer.count - start)
            if rest.count < need {
                buffer.append(contentsOf: rest)
                return
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<need]))
            rest = UnsafeRawBufferPointer(rebasing: rest[need...])
            _ = try nextFrame(body)
        }
        var off = 0
        let n = rest.count
        while n - off >= 12 {
            let total: Int
            switch Self.checkPrelude(UnsafeRawBufferPointer(rebasing: rest[off..<off + 12]), limit: maxMessageLength) {
            case .success(let t): total = t
            case .failure(let e): try fail(e)
            }
            if n - off < total { break }
            switch Self.validateFrame(UnsafeRawBufferPointer(rebasing: rest[off..<off + total]), &headerCache) {
            case .success(let view): body(view)
            case .failure(let e): try fail(e)
            }
            off += total
        }
        if off < n { feed(UnsafeRawBufferPointer(rebasing: rest[off...])) }
    }

    /// The next complete message, or nil when more bytes are needed.
    /// - Throws: `EventStreamError` for a corrupted or oversized frame (and again on every later call).
    public mutating func nextMessage() throws(EventStreamError) -> EventStreamMessage? {
        try nextFrame { $0.message() }
    }

    /// Validates the next complete frame and hands a view of it (valid only inside `body`) without copying
    /// the payload or allocating headers; nil when more bytes are needed.
    /// - Throws: `EventStreamError` for a corrupted or oversized frame (and again on every later call).
    public mutating func nextFrame<R>(_ body: (EventStreamFrameView) -> R) throws(EventStreamError) -> R? {
        if let failure { throw failure }
        let available = buffer.count - start
        if pendingTotal == 0 {
            guard available >= 12 else { return nil }
            let result: Result<Int, EventStreamError> = buffer.withUnsafeBytes { raw in
                Self.checkPrelude(UnsafeRawBufferPointer(rebasing: raw[start..<start + 12]), limit: maxMessageLength)
            }
            switch result {
            case .success(let total): pendingTotal = total
            case .failure(let e): try fail(e)
            }
        }
        let total = pendingTotal
        guard available >= total else { return nil }
        let frameStart = start
        var cache = HeaderCache()
        swap(&cache, &headerCache)
        let outcome: Result<R, EventStreamError> = buffer.withUnsafeBytes { raw in
            let f = UnsafeRawBufferPointer(rebasing: raw[frameStart..<frameStart + total])
            switch Self.validateFrame(f, &cache) {
            case .success(let view): return .success(body(view))
            case .failure(let e): return .failure(e)
            }
        }
        swap(&cache, &headerCache)
        switch outcome {
        case .success(let r):
            start += total
            pendingTotal = 0
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            return r
        case .failure(let e):
            try fail(e)
        }
    }

    /// Declares the end of input.
    /// - Throws: `EventStreamError.truncated` when a partial frame is left (or the earlier error).
    public mutating func finish() throws(EventStreamError) {
        if let failure { throw failure }
        let left = buffer.count - start
        if left > 0 { try fail(.truncated(bufferedBytes: left)) }
    }

    /// Decodes a complete buffer of frames (no partial frame may remain).
    public static func decodeAll(_ data: Data) throws(EventStreamError) -> [EventStreamMessage] {
        var decoder = EventStreamDecoder()
        decoder.feed(data)
        var out: [EventStreamMessage] = []
        while let m = try decoder.nextMessage() { out.append(m) }
        try decoder.finish()
        return out
    }

    private mutating func fail(_ e: EventStreamError) throws(EventStreamError) -> Never {
        failure = e
        buffer = []
        start = 0
        throw e
    }

    /// Validates the 12-byte prelude and returns the total frame length.
    static func checkPrelude(_ p: UnsafeRawBufferPointer, limit: Int) -> Result<Int, EventStreamError> {
        let total = Int(p.loadBE32(0))
        let headers = Int(p.loadBE32(4))
        let expected = p.loadBE32(8)
        let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: p[0..<8]))
        if computed != expected { return .failure(.preludeChecksumMismatch(expected: expected, computed: computed)) }
        if total < EventStreamLimits.overhead {
            return .failure(.invalidLength("total length \(total) is below the 16-byte minimum"))
        }
        if total > limit { return .failure(.invalidLength("total length \(total) exceeds the limit of \(limit) bytes")) }
        if headers > total - EventStreamLimits.overhead {
            return .failure(.invalidLength("headers length \(headers) does not fit in a \(total)-byte frame"))
        }
        if headers > EventStreamLimits.maxHeadersLength {
            return .failure(.invalidLength("headers length \(headers) exceeds 128 KiB"))
        }
        if total - headers - EventStreamLimits.overhead > EventStreamLimits.maxPayloadLength {
            return .failure(.invalidLength("payload exceeds 24 MiB"))
        }
        return .success(total)
    }

    /// Checks the message CRC and the header block of one whole frame whose prelude has been validated.
    static func validateFrame(_ f: UnsafeRawBufferPointer, _ cache: inout HeaderCache) -> Result<EventStreamFrameView, EventStreamError> {
        let total = f.count
        let headersLength = Int(f.loadBE32(4))
        let preludeCRC = f.loadBE32(8)
        let expected = f.loadBE32(total - 4)
        let computed = CRC32.checksum(UnsafeRawBufferPointer(rebasing: f[8..<total - 4]), continuing: preludeCRC)
        if computed != expected { return .failure(.messageChecksumMismatch(expected: expected, computed: computed)) }
        let headerBlock = UnsafeRawBufferPointer(rebasing: f[12..<12 + headersLength])
        let payloadPart: Bool
        if cache.matches(headerBlock) {
            payloadPart = cache.isPayloadPart
        } else {
            if let e = validateHeaders(headerBlock) { return .failure(e) }
            payloadPart = EventStreamFrameView.computeIsPayloadPart(headerBlock)
            cache.store(headerBlock, isPayloadPart: payloadPart)
        }
        return .success(
            EventStreamFrameView(
                headerBlock: headerBlock, payload: UnsafeRawBufferPointer(rebasing: f[12 + headersLength..<total - 4]),
                isPayloadPart: payloadPart))
    }

    /// Walks a header block, calling `visit(name, type, value)` for each header (value = the value bytes,
    /// after the length for types 6 and 7). Returns the first structural problem.
    @inline(__always)
    static func scanHeaders(
        _ h: UnsafeRawBufferPointer, _ visit: (UnsafeRawBufferPointer, UInt8, UnsafeRawBufferPointer) -> Void
    ) -> EventStreamError? {
        var i = 0
        let n = h.count
        while i < n {
            let nameLength = Int(h[i])
            i += 1
            if nameLength == 0 { return .invalidHeader("empty header name") }
            guard i + nameLength + 1 <= n else {
                return .invalidHeader("header name of \(nameLength) bytes runs past the header block")
            }
            let name = UnsafeRawBufferPointer(rebasing: h[i..<i + nameLength])
            i += nameLength
            let type = h[i]
            i += 1
            let size: Int
            switch type {
            case 0, 1: size = 0
            case 2: size = 1
            case 3: size = 2
            case 4: size = 4
            case 5, 8: size = 8
            case 9: size = 16
            case 6, 7:
                guard i + 2 <= n else { return .invalidHeader("header '\(printable(name))' is cut off") }
                size = Int(h[i]) << 8 | Int(h[i + 1])
                i += 2
            default:
                return .invalidHeader("header '\(printable(name))' has unknown value type \(type)")
            }
            guard i + size <= n else {
                return .invalidHeader("header '\(printable(name))' declares \(size) value bytes past the header block")
            }
            visit(name, type, UnsafeRawBufferPointer(rebasing: h[i..<i + size]))
            i += size
        }
        return nil
    }

    /// Structural checks plus UTF-8 of names and string values, and duplicate names (no allocation).
    static func validateHeaders(_ h: UnsafeRawBufferPointer) -> EventStreamError? {
        var problem: EventStreamError?
        var count = 0
        let structural = scanHeaders(h) { name, type, value in
            guard problem == nil else { return }
            if !isValidUTF8(name) {
                problem = .invalidHeader("header name is not valid UTF-8")
                return
            }
            if type == 7 && !isValidUTF8(value) {
                problem = .invalidHeader("string header '\(printable(name))' is not valid UTF-8")
                return
            }
            count += 1
        }
        if let structural { return structural }
        if let problem { return problem }
        if count > 1 && count <= 16 {
            // Duplicate names: compare each name with the ones before it, without allocating.
            var i = 0
            _ = scanHeaders(h) { name, _, _ in
                var j = 0
                _ = scanHeaders(h) { other, _, _ in
                    if j < i, problem == nil, other.count == name.count,
                        memcmp(other.baseAddress!, name.baseAddress!, name.count) == 0
                    {
                        problem = .invalidHeader("duplicate header '\(printable(name))'")
                    }
                    j += 1
                }
                i += 1
            }
        } else if count > 16 {
            var names: [UnsafeRawBufferPointer] = []
            names.reserveCapacity(count)
            _ = scanHeaders(h) { name, _, _ in
                if problem == nil, names.contains(where: { $0.count == name.count && memcmp($0.baseAddress!, name.baseAddress!, name.count) == 0 }) {
                    problem = .invalidHeader("duplicate header '\(printable(name))'")
                }
                names.append(name)
            }
        }
        return problem
    }

    /// Validates a header block and parses it into values (a block that is already validated, as a decoded
    /// frame's is, goes straight to `materializeHeaders`).
    static func parseHeaders(_ h: UnsafeRawBufferPointer) -> Result<[EventStreamHeader], EventStreamError> {
        if let e = validateHeaders(h) { return .failure(e) }
        return .success(materializeHeaders(h))
    }

    static func materializeHeaders(_ h: UnsafeRawBufferPointer) -> [EventStreamHeader] {
        var out: [EventStreamHeader] = []
        out.reserveCapacity(3)
        _ = scanHeaders(h) { name, type, v in
            let value: EventStreamHeaderValue
            switch type {
            case 0: value = .bool(true)
            case 1: value = .bool(false)
            case 2: value = .byte(Int8(bitPattern: v[0]))
            case 3: value = .int16(Int16(bitPattern: UInt16(v[0]) << 8 | UInt16(v[1])))
            case 4: value = .int32(Int32(bitPattern: v.loadBE32(0)))
            case 5, 8:
                let x = Int64(bitPattern: UInt64(v.loadBE32(0)) << 32 | UInt64(v.loadBE32(4)))
                value = type == 5 ? .int64(x) : .timestamp(x)
            case 6: value = .byteArray(Array(v))
            case 7: value = .string(internedString(v))
            default:
                let b = Array(v)
                value = .uuid(UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])))
            }
            out.append(EventStreamHeader(name: internedString(name), value: value))
        }
        return out
    }
}

/// Header names and values AWS sends on every frame, shared instead of allocated per frame.
private let commonStrings: [String] = [
    ":event-type", ":content-type", ":message-type", ":exception-type", ":error-code", ":error-message",
    "PayloadPart", "event", "exception", "error", "application/octet-stream", "application/json",
    "ModelStreamError", "InternalStreamFailure",
]

/// The string for already-validated UTF-8 `bytes`, reusing a common one when it matches.
func internedString(_ bytes: UnsafeRawBufferPointer) -> String {
    for s in commonStrings {
        var t = s
        let equal = t.withUTF8 { u in u.count == bytes.count && memcmp(u.baseAddress!, bytes.baseAddress!, u.count) == 0 }
        if equal { return s }
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// True when `bytes` is well-formed UTF-8 (ASCII fast path).
func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
    var ascii = true
    for b in bytes where b >= 0x80 {
        ascii = false
        break
    }
    if ascii { return true }
    return String(validating: bytes, as: UTF8.self) != nil
}

/// The last validated header block (up to 512 bytes) and what it said.
struct HeaderCache: Sendable {
    private var bytes: [UInt8] = []
    private(set) var isPayloadPart = false

    func matches(_ block: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty, bytes.count == block.count else { return false }
        return bytes.withUnsafeBytes { memcmp($0.baseAddress!, block.baseAddress!, block.count) == 0 }
    }

    mutating func store(_ block: UnsafeRawBufferPointer, isPayloadPart: Bool) {
        guard !block.isEmpty, block.count <= 512 else {
            bytes = []
            return
        }
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: block)
        self.isPayloadPart = isPayloadPart
    }
}

/// A header name for messages (lossy, at most 64 bytes).
private func printable(_ name: UnsafeRawBufferPointer) -> String {
    String(decoding: name.prefix(64), as: UTF8.self)
}

/// A validated frame, seen in place in the decoder's buffer: valid only inside `nextFrame`'s closure.
public struct EventStreamFrameView {
    /// The encoded header block (already validated).
    public let headerBlock: UnsafeRawBufferPointer
    /// The payload bytes.
    public let payload: UnsafeRawBufferPointer
    /// True for a SageMaker `PayloadPart` event (`:message-type` `event` or absent, `:event-type` `PayloadPart`).
    public let isPayloadPart: Bool

    /// The raw value of string header `name`, if present.
    public func stringHeader(_ name: StaticString) -> UnsafeRawBufferPointer? {
        var found: UnsafeRawBufferPointer?
        _ = EventStreamDecoder.scanHeaders(headerBlock) { n, type, value in
            if found == nil, type == 7, n.count == name.utf8CodeUnitCount,
                memcmp(n.baseAddress!, name.utf8Start, n.count) == 0
            {
                found = value
            }
        }
        return found
    }

    /// True when string header `name` equals `value`.
    public func header(_ name: StaticString, is value: StaticString) -> Bool {
        guard let v = stringHeader(name) else { return false }
        return v.count == value.utf8CodeUnitCount && (v.isEmpty || memcmp(v.baseAddress!, value.utf8Start, v.count) == 0)
    }

    static func computeIsPayloadPart(_ headerBlock: UnsafeRawBufferPointer) -> Bool {
        var messageTypeOK = true
        var eventOK = false
        _ = EventStreamDecoder.scanHeaders(headerBlock) { n, type, value in
            guard type == 7 else { return }
            if n.count == 13 && memcmp(n.baseAddress!, ":message-type", 13) == 0 {
                messageTypeOK = value.count == 5 && memcmp(value.baseAddress!, "event", 5) == 0
            } else if n.count == 11 && memcmp(n.baseAddress!, ":event-type", 11) == 0 {
                eventOK = value.count == 11 && memcmp(value.baseAddress!, "PayloadPart", 11) == 0
            }
        }
        return messageTypeOK && eventOK
    }

    /// A copy as a message (headers decoded, payload copied).
    public func message() -> EventStreamMessage {
        EventStreamMessage(headers: EventStreamDecoder.materializeHeaders(headerBlock), payload: Data(payload))
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBE32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
