public import Foundation

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

    /// The next complete message, or nil when more bytes are needed.
    /// - Throws: `EventStreamError` for a corrupted or oversized frame (and again on every later call).
    public mutating func nextMessage() throws(EventStreamError) -> EventStreamMessage? {
        if let failure { throw failure }
        let available = buffer.count - start
        if pendingTotal == 0 {
            guard available >= 12 else { return nil }
            let result: Result<Int, EventStreamError> = buffer.withUnsafeBytes { raw in
                Self.checkPrelude(UnsafeRawBufferPointer(rebasing: raw[start..<start + 12]), limit: maxMessageLength)
            }
            switch result {
            case .success(let total): pendingTotal = total
            case .failure(let e): return try fail(e)
            }
        }
        let total = pendingTotal
        guard available >= total else { return nil }
        let result: Result<EventStreamMessage, EventStreamError> = buffer.withUnsafeBytes { raw in
            Self.decodeFrame(UnsafeRawBufferPointer(rebasing: raw[start..<start + total]))
        }
        switch result {
        case .success(let message):
            start += total
            pendingTotal = 0
            if start == buffer.count {
                buffer.removeAll(keepingCapacity: true)
                start = 0
            }
            return message
        case .failure(let e):
            return try fail(e)
        }
    }

    /// Declares the end of input.
    /// - Throws: `EventStreamError.truncated` when a partial frame is left (or the earlier error).
    public mutating func finish() throws(EventStreamError) {
        if let failure { throw failure }
        let left = buffer.count - start
        if left > 0 { _ = try fail(.truncated(bufferedBytes: left)) }
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

    private mutating func fail(_ e: EventStreamError) throws(EventStreamError) -> EventStreamMessage? {
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
        let computed = eventStreamCRC32(UnsafeRawBufferPointer(rebasing: p[0..<8]))
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

    /// Decodes one whole frame whose prelude has been validated.
    static func decodeFrame(_ f: UnsafeRawBufferPointer) -> Result<EventStreamMessage, EventStreamError> {
        let total = f.count
        let headersLength = Int(f.loadBE32(4))
        let preludeCRC = f.loadBE32(8)
        let expected = f.loadBE32(total - 4)
        let computed = eventStreamCRC32(UnsafeRawBufferPointer(rebasing: f[8..<total - 4]), continuing: preludeCRC)
        if computed != expected { return .failure(.messageChecksumMismatch(expected: expected, computed: computed)) }
        let headerBlock = UnsafeRawBufferPointer(rebasing: f[12..<12 + headersLength])
        let headers: [EventStreamHeader]
        switch parseHeaders(headerBlock) {
        case .success(let h): headers = h
        case .failure(let e): return .failure(e)
        }
        let payload = Data(UnsafeRawBufferPointer(rebasing: f[12 + headersLength..<total - 4]))
        return .success(EventStreamMessage(headers: headers, payload: payload))
    }

    static func parseHeaders(_ h: UnsafeRawBufferPointer) -> Result<[EventStreamHeader], EventStreamError> {
        var out: [EventStreamHeader] = []
        out.reserveCapacity(3)
        var i = 0
        let n = h.count
        while i < n {
            let nameLength = Int(h[i])
            i += 1
            if nameLength == 0 { return .failure(.invalidHeader("empty header name")) }
            guard i + nameLength + 1 <= n else {
                return .failure(.invalidHeader("header name of \(nameLength) bytes runs past the header block"))
            }
            guard let name = String(validating: UnsafeRawBufferPointer(rebasing: h[i..<i + nameLength]), as: UTF8.self)
            else { return .failure(.invalidHeader("header name is not valid UTF-8")) }
            i += nameLength
            let type = h[i]
            i += 1
            func need(_ k: Int) -> Bool { i + k <= n }
            let value: EventStreamHeaderValue
            switch type {
            case 0: value = .bool(true)
            case 1: value = .bool(false)
            case 2:
                guard need(1) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                value = .byte(Int8(bitPattern: h[i]))
                i += 1
            case 3:
                guard need(2) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                value = .int16(Int16(bitPattern: UInt16(h[i]) << 8 | UInt16(h[i + 1])))
                i += 2
            case 4:
                guard need(4) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                value = .int32(Int32(bitPattern: h.loadBE32(i)))
                i += 4
            case 5, 8:
                guard need(8) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                let v = Int64(bitPattern: UInt64(h.loadBE32(i)) << 32 | UInt64(h.loadBE32(i + 4)))
                value = type == 5 ? .int64(v) : .timestamp(v)
                i += 8
            case 6, 7:
                guard need(2) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                let length = Int(h[i]) << 8 | Int(h[i + 1])
                i += 2
                guard need(length) else {
                    return .failure(.invalidHeader("header '\(name)' declares \(length) value bytes past the header block"))
                }
                let bytes = UnsafeRawBufferPointer(rebasing: h[i..<i + length])
                if type == 6 {
                    value = .byteArray(Array(bytes))
                } else {
                    guard let s = String(validating: bytes, as: UTF8.self) else {
                        return .failure(.invalidHeader("string header '\(name)' is not valid UTF-8"))
                    }
                    value = .string(s)
                }
                i += length
            case 9:
                guard need(16) else { return .failure(.invalidHeader("header '\(name)' is cut off")) }
                let b = Array(UnsafeRawBufferPointer(rebasing: h[i..<i + 16]))
                value = .uuid(
                    UUID(
                        uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                               b[14], b[15])))
                i += 16
            default:
                return .failure(.invalidHeader("header '\(name)' has unknown value type \(type)"))
            }
            if out.contains(where: { $0.name == name }) {
                return .failure(.invalidHeader("duplicate header '\(name)'"))
            }
            out.append(EventStreamHeader(name: name, value: value))
        }
        return .success(out)
    }
}

extension UnsafeRawBufferPointer {
    @inline(__always)
    func loadBE32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
