public import Foundation
internal import SousCrypto

/// Encodes event-stream frames (prelude, headers, payload, both CRCs via SousCrypto's `CRC32`).
public enum EventStreamEncoder {
    /// The wire bytes of `message`.
    /// - Throws: `EventStreamError.cannotEncode` when a name, value, header block or payload exceeds its limit.
    public static func encode(_ message: EventStreamMessage) throws(EventStreamError) -> Data {
        let headers = try encodeHeaders(message.headers)
        guard headers.count <= EventStreamLimits.maxHeadersLength else {
            throw .cannotEncode("the header block is \(headers.count) bytes, above 128 KiB")
        }
        guard message.payload.count <= EventStreamLimits.maxPayloadLength else {
            throw .cannotEncode("the payload is \(message.payload.count) bytes, above 24 MiB")
        }
        let total = EventStreamLimits.overhead + headers.count + message.payload.count
        var out = [UInt8]()
        out.reserveCapacity(total)
        appendBE32(&out, UInt32(total))
        appendBE32(&out, UInt32(headers.count))
        appendBE32(&out, CRC32.checksum(out[0..<8]))
        out.append(contentsOf: headers)
        out.append(contentsOf: message.payload)
        appendBE32(&out, CRC32.checksum(out))
        return Data(out)
    }

    /// Encodes the header block alone.
    public static func encodeHeaders(_ headers: [EventStreamHeader]) throws(EventStreamError) -> [UInt8] {
        var out = [UInt8]()
        for h in headers {
            let name = Array(h.name.utf8)
            guard (1...255).contains(name.count) else {
                throw .cannotEncode("header name '\(h.name.prefix(40))' must be 1 to 255 UTF-8 bytes")
            }
            out.append(UInt8(name.count))
            out.append(contentsOf: name)
            out.append(h.value.typeCode)
            switch h.value {
            case .bool: break
            case .byte(let v): out.append(UInt8(bitPattern: v))
            case .int16(let v):
                let u = UInt16(bitPattern: v)
                out.append(UInt8(u >> 8))
                out.append(UInt8(u & 0xff))
            case .int32(let v): appendBE32(&out, UInt32(bitPattern: v))
            case .int64(let v), .timestamp(let v):
                let u = UInt64(bitPattern: v)
                appendBE32(&out, UInt32(u >> 32))
                appendBE32(&out, UInt32(u & 0xffff_ffff))
            case .byteArray(let bytes): try appendVariable(&out, bytes, name: h.name)
            case .string(let s): try appendVariable(&out, Array(s.utf8), name: h.name)
            case .uuid(let u):
                withUnsafeBytes(of: u.uuid) { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    private static func appendVariable(_ out: inout [UInt8], _ bytes: [UInt8], name: String) throws(EventStreamError) {
        guard bytes.count <= 65_535 else {
            throw .cannotEncode("header '\(name)' has a \(bytes.count)-byte value, above 65,535")
        }
        out.append(UInt8(bytes.count >> 8))
        out.append(UInt8(bytes.count & 0xff))
        out.append(contentsOf: bytes)
    }

    private static func appendBE32(_ out: inout [UInt8], _ v: UInt32) {
        out.append(UInt8(v >> 24))
        out.append(UInt8((v >> 16) & 0xff))
        out.append(UInt8((v >> 8) & 0xff))
        out.append(UInt8(v & 0xff))
    }
}
