public import Foundation

/// Limits of the AWS event-stream framing (`application/vnd.amazon.eventstream`).
public enum EventStreamLimits {
    /// Prelude (12 bytes) plus the trailing message CRC (4 bytes).
    public static let overhead = 16
    /// Largest payload the specification allows (24 MiB).
    public static let maxPayloadLength = 24 * 1024 * 1024
    /// Largest encoded header block the specification allows (128 KiB).
    public static let maxHeadersLength = 128 * 1024
    /// Largest whole frame the decoder accepts before buffering it.
    public static let maxMessageLength = overhead + maxHeadersLength + maxPayloadLength
}

/// The typed value of one event-stream header (wire type in the comment).
public enum EventStreamHeaderValue: Sendable, Hashable {
    /// Types 0 (true) and 1 (false).
    case bool(Bool)
    /// Type 2.
    case byte(Int8)
    /// Type 3.
    case int16(Int16)
    /// Type 4.
    case int32(Int32)
    /// Type 5.
    case int64(Int64)
    /// Type 6 (at most 65,535 bytes).
    case byteArray([UInt8])
    /// Type 7 (at most 65,535 UTF-8 bytes).
    case string(String)
    /// Type 8: milliseconds since the Unix epoch.
    case timestamp(Int64)
    /// Type 9: 16 raw bytes.
    case uuid(UUID)

    /// The wire type byte.
    public var typeCode: UInt8 {
        switch self {
        case .bool(let b): b ? 0 : 1
        case .byte: 2
        case .int16: 3
        case .int32: 4
        case .int64: 5
        case .byteArray: 6
        case .string: 7
        case .timestamp: 8
        case .uuid: 9
        }
    }

    /// The string value, for `.string` headers.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
}

/// One header: a name (1–255 UTF-8 bytes) and a typed value.
public struct EventStreamHeader: Sendable, Hashable {
    public var name: String
    public var value: EventStreamHeaderValue

    public init(name: String, value: EventStreamHeaderValue) {
        self.name = name
        self.value = value
    }
}

/// One decoded (or to-be-encoded) event-stream frame: headers in wire order and the payload bytes.
public struct EventStreamMessage: Sendable, Hashable {
    public var headers: [EventStreamHeader]
    public var payload: Data

    public init(headers: [EventStreamHeader] = [], payload: Data = Data()) {
        self.headers = headers
        self.payload = payload
    }

    /// The value of the header called `name` (names are case-sensitive on the wire).
    public subscript(header name: String) -> EventStreamHeaderValue? {
        headers.first { $0.name == name }?.value
    }

    /// `:message-type` (`event`, `exception` or `error`).
    public var messageType: String? { self[header: ":message-type"]?.stringValue }
    /// `:event-type`, the union member name of an event (e.g. `PayloadPart`).
    public var eventType: String? { self[header: ":event-type"]?.stringValue }
    /// `:exception-type`, the member name of a modelled error (e.g. `ModelStreamError`).
    public var exceptionType: String? { self[header: ":exception-type"]?.stringValue }
    /// `:content-type` of the payload.
    public var contentType: String? { self[header: ":content-type"]?.stringValue }

    /// An event frame as AWS services send it (`:message-type: event`).
    public static func event(type: String, contentType: String = "application/octet-stream", payload: Data)
        -> EventStreamMessage
    {
        EventStreamMessage(
            headers: [
                EventStreamHeader(name: ":event-type", value: .string(type)),
                EventStreamHeader(name: ":content-type", value: .string(contentType)),
                EventStreamHeader(name: ":message-type", value: .string("event")),
            ], payload: payload)
    }

    /// A modelled-exception frame (`:message-type: exception`) with a JSON payload.
    public static func exception(type: String, payload: Data) -> EventStreamMessage {
        EventStreamMessage(
            headers: [
                EventStreamHeader(name: ":exception-type", value: .string(type)),
                EventStreamHeader(name: ":content-type", value: .string("application/json")),
                EventStreamHeader(name: ":message-type", value: .string("exception")),
            ], payload: payload)
    }
}

/// A malformed or oversized event-stream frame.
public enum EventStreamError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The CRC of the 8-byte prelude does not match (the lengths cannot be trusted).
    case preludeChecksumMismatch(expected: UInt32, computed: UInt32)
    /// The CRC of the whole frame does not match (headers or payload corrupted).
    case messageChecksumMismatch(expected: UInt32, computed: UInt32)
    /// A length field is impossible or beyond the limits.
    case invalidLength(String)
    /// A header is malformed (bad name, unknown type, value past the header block, duplicate).
    case invalidHeader(String)
    /// The stream ended in the middle of a frame.
    case truncated(bufferedBytes: Int)
    /// A message cannot be encoded (a limit is exceeded).
    case cannotEncode(String)

    public var description: String {
        switch self {
        case .preludeChecksumMismatch(let e, let c):
            "event stream: prelude checksum mismatch (frame says \(hex(e)), computed \(hex(c))); the response is corrupted, retry the request"
        case .messageChecksumMismatch(let e, let c):
            "event stream: message checksum mismatch (frame says \(hex(e)), computed \(hex(c))); the response is corrupted, retry the request"
        case .invalidLength(let why):
            "event stream: invalid frame length (\(why)); the response is not a valid AWS event stream"
        case .invalidHeader(let why):
            "event stream: invalid header (\(why)); the response is not a valid AWS event stream"
        case .truncated(let n):
            "event stream: the connection ended in the middle of a frame (\(n) bytes of an incomplete frame); retry the request"
        case .cannotEncode(let why):
            "event stream: cannot encode the message (\(why))"
        }
    }
}

private func hex(_ v: UInt32) -> String {
    let s = String(v, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - s.count)) + s
}
