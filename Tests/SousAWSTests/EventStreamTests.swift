import Foundation
import SousCrypto
import SousTestSupport
import Testing

@testable import SousAWS

/// Decodes `data` after feeding it in the given pieces.
private func decodePieces(_ pieces: [ArraySlice<UInt8>]) throws -> [EventStreamMessage] {
    var d = EventStreamDecoder()
    var out: [EventStreamMessage] = []
    for p in pieces {
        d.feed(Array(p))
        while let m = try d.nextMessage() { out.append(m) }
    }
    try d.finish()
    return out
}

/// Same with the in-place `decode(_:_:)` API.
private func decodePiecesInPlace(_ pieces: [ArraySlice<UInt8>]) throws -> [EventStreamMessage] {
    var d = EventStreamDecoder()
    var out: [EventStreamMessage] = []
    for p in pieces {
        try Array(p).withUnsafeBytes { raw in try d.decode(raw) { out.append($0.message()) } }
    }
    try d.finish()
    return out
}

/// Feeds `bytes` split at every offset (two pieces) and byte by byte; each must give `expected`.
private func expectAllSplits(_ bytes: [UInt8], _ expected: [EventStreamMessage], _ label: String) throws {
    for cut in 0...bytes.count {
        let got = try decodePieces([bytes[0..<cut], bytes[cut...]])
        #expect(got == expected, "\(label): split at \(cut)")
        #expect(try decodePiecesInPlace([bytes[0..<cut], bytes[cut...]]) == expected, "\(label): in place, split at \(cut)")
    }
    #expect(try decodePieces(bytes.indices.map { bytes[$0...$0] }) == expected, "\(label): byte by byte")
    #expect(try decodePiecesInPlace(bytes.indices.map { bytes[$0...$0] }) == expected, "\(label): in place, byte by byte")
}

private func readBytes(_ url: URL) throws -> [UInt8] { Array(try Data(contentsOf: url)) }

/// The expected header value from the aws-sdk-go decoded JSON (`type` is the wire type).
private func headerValue(type: Int, json: Any) -> EventStreamHeaderValue? {
    switch type {
    case 0, 1: return .bool(json as? Bool ?? false)
    case 2: return .byte(Int8((json as? NSNumber)?.intValue ?? 0))
    case 3: return .int16(Int16((json as? NSNumber)?.intValue ?? 0))
    case 4: return .int32(Int32((json as? NSNumber)?.intValue ?? 0))
    case 5: return .int64((json as? NSNumber)?.int64Value ?? 0)
    case 8: return .timestamp((json as? NSNumber)?.int64Value ?? 0)
    case 6, 7, 9:
        guard let b64 = json as? String, let data = Data(base64Encoded: b64) else { return nil }
        if type == 6 { return .byteArray(Array(data)) }
        if type == 7 { return .string(String(decoding: data, as: UTF8.self)) }
        let b = Array(data)
        guard b.count == 16 else { return nil }
        return .uuid(UUID(uuid: (b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15])))
    default: return nil
    }
}

@Suite("Event stream codec")
struct EventStreamTests {
    // The vectors are in ../shared/testdata/eventstream; the tests that read them are skipped when it is absent.
    static let vectors = TestPaths.shared("testdata/eventstream")

    @Test(
        "aws-sdk-go positive vectors decode to the JSON, re-encode byte for byte, at every split",
        .enabled(if: EventStreamTests.vectors != nil, "needs ../shared/testdata/eventstream"))
    func awsPositiveVectors() throws {
        let dir = try #require(Self.vectors)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("encoded/positive").path).sorted()
        #expect(names.count == 5)
        for name in names {
            let bytes = try readBytes(dir.appendingPathComponent("encoded/positive/\(name)"))
            let jsonData = try Data(contentsOf: dir.appendingPathComponent("decoded/positive/\(name)"))
            let json = try #require(try JSONSerialization.jsonObject(with: jsonData) as? [String: Any])
            let messages = try EventStreamDecoder.decodeAll(Data(bytes))
            try #require(messages.count == 1, "\(name)")
            let m = messages[0]
            #expect((json["total_length"] as? Int) == bytes.count, "\(name)")
            let headersLength = Int(UInt32(bytes[4]) << 24 | UInt32(bytes[5]) << 16 | UInt32(bytes[6]) << 8 | UInt32(bytes[7]))
            #expect((json["headers_length"] as? Int) == headersLength, "\(name)")
            let preludeCRC = Int32(bitPattern: CRC32.checksum(bytes[0..<8]))
            #expect((json["prelude_crc"] as? Int) == Int(preludeCRC), "\(name)")
            let messageCRC = Int32(bitPattern: CRC32.checksum(bytes[0..<(bytes.count - 4)]))
            #expect((json["message_crc"] as? Int) == Int(messageCRC), "\(name)")
            let expectedHeaders = (json["headers"] as? [[String: Any]] ?? []).map { h in
                EventStreamHeader(
                    name: h["name"] as? String ?? "",
                    value: headerValue(type: h["type"] as? Int ?? -1, json: h["value"] as Any) ?? .bool(false))
            }
            #expect(m.headers == expectedHeaders, "\(name)")
            #expect(m.headers.map { Int($0.value.typeCode) } == (json["headers"] as? [[String: Any]] ?? []).map { $0["type"] as? Int ?? -1 })
            #expect(m.payload == Data(base64Encoded: json["payload"] as? String ?? "x"), "\(name)")
            // Our encoder reproduces the vector exactly.
            #expect(Array(try EventStreamEncoder.encode(m)) == bytes, "\(name): re-encoding")
            try expectAllSplits(bytes, [m], name)
        }
    }

    @Test(
        "aws-sdk-go negative vectors fail with the checksum the README names",
        .enabled(if: EventStreamTests.vectors != nil, "needs ../shared/testdata/eventstream"))
    func awsNegativeVectors() throws {
        let dir = try #require(Self.vectors)
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.appendingPathComponent("encoded/negative").path).sorted()
        #expect(names.count == 4)
        for name in names {
            let bytes = try readBytes(dir.appendingPathComponent("encoded/negative/\(name)"))
            let text = try String(contentsOf: dir.appendingPathComponent("decoded/negative/\(name)"), encoding: .utf8)
            let wantPrelude = text.contains("Prelude")
            var d = EventStreamDecoder()
            d.feed(bytes)
            do {
                _ = try d.nextMessage()
                Issue.record("\(name) decoded")
            } catch {
                switch error {
                case .preludeChecksumMismatch: #expect(wantPrelude, "\(name): \(error)")
                case .messageChecksumMismatch: #expect(!wantPrelude, "\(name): \(error)")
                default: Issue.record("\(name): unexpected \(error)")
                }
                // Fatal: the next call throws again, even with more input.
                d.feed([0, 0, 0, 16])
                #expect(throws: EventStreamError.self) { _ = try d.nextMessage() }
            }
        }
    }

    @Test(
        "smithy-rs vectors: valid frames decode at every split, invalid ones are rejected",
        .enabled(if: TestPaths.shared("testdata/eventstream/smithy-rs") != nil, "needs ../shared/testdata/eventstream/smithy-rs"))
    func smithyVectors() throws {
        let dir = try #require(Self.vectors).appendingPathComponent("smithy-rs")
        let s = { (v: String) in EventStreamHeaderValue.string(v) }
        let expected: [String: EventStreamMessage] = [
            "valid_no_headers": EventStreamMessage(payload: Data("another test payload".utf8)),
            // The README says "int32 500"; the wire type byte is 3 (int16), value 0x01F4, as botocore also reads it.
            "valid_empty_payload": EventStreamMessage(headers: [.init(name: "some-header", value: .int16(500))]),
            "valid_with_all_headers_and_payload": EventStreamMessage(
                headers: [
                    .init(name: "true", value: .bool(true)), .init(name: "false", value: .bool(false)),
                    .init(name: "byte", value: .byte(50)), .init(name: "short", value: .int16(20000)),
                    .init(name: "int", value: .int32(500_000)), .init(name: "long", value: .int64(50_000_000_000)),
                    .init(name: "bytes", value: .byteArray(Array("some bytes".utf8))),
                    .init(name: "str", value: s("some str")), .init(name: "time", value: .timestamp(5_000_000_000)),
                    .init(name: "uuid", value: .uuid(UUID(uuidString: "b79bc914-de21-4e13-b8b2-bc47e85b7f0b")!)),
                ], payload: Data("some payload".utf8)),
        ]
        for (name, message) in expected {
            let bytes = try readBytes(dir.appendingPathComponent(name))
            try expectAllSplits(bytes, [message], name)
            #expect(Array(try EventStreamEncoder.encode(message)) == bytes, "\(name): re-encoding")
        }
        let invalid = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("invalid_") }
        #expect(invalid.count == 8)
        for name in invalid {
            let bytes = try readBytes(dir.appendingPathComponent(name))
            // Every split must reject (never crash, never yield a message).
            for cut in stride(from: 0, through: bytes.count, by: 1) {
                #expect(throws: EventStreamError.self, "\(name) split \(cut)") {
                    _ = try decodePieces([bytes[0..<cut], bytes[cut...]])
                }
                #expect(throws: EventStreamError.self, "\(name) in place, split \(cut)") {
                    _ = try decodePiecesInPlace([bytes[0..<cut], bytes[cut...]])
                }
            }
            do {
                _ = try EventStreamDecoder.decodeAll(Data(bytes))
            } catch {
                if name == "invalid_prelude_checksum" {
                    #expect(error == .preludeChecksumMismatch(expected: 0xDEAD_BEEF, computed: 0x8BB4_95FB))
                }
                if name == "invalid_message_checksum" {
                    #expect(error == .messageChecksumMismatch(expected: 0xDEAD_BEEF, computed: 0x01A0_5860))
                }
            }
        }
    }

    @Test("header parser rejects malformed header blocks (checked directly, past the CRCs)")
    func malformedHeaders() {
        let cases: [([UInt8], String)] = [
            ([4, 0x62, 0x79, 0x74, 0x65, 0x60, 1], "unknown type"),
            ([255, 0x61], "name past block"),
            ([3, 0x73, 0x74, 0x72, 7, 0xff, 0xff, 0x61], "string past block"),
            ([1, 0x61, 0, 1, 0x61, 1], "duplicate"),
            ([0, 0], "empty name"),
            ([1, 0xff, 0], "name not UTF-8"),
            ([1, 0x61, 5, 0, 0], "int64 cut off"),
            ([1, 0x61, 9, 1, 2, 3], "uuid cut off"),
        ]
        for (block, label) in cases {
            let result = block.withUnsafeBytes { EventStreamDecoder.parseHeaders($0) }
            if case .success = result { Issue.record("accepted: \(label)") }
        }
    }

    @Test("round trip of random messages fed in random slices; corrupting any byte is detected")
    func randomRoundTrip() throws {
        var rng = SeededRandom(seed: 42)
        var messages: [EventStreamMessage] = []
        for i in 0..<60 {
            let payload = Data((0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            var m = EventStreamMessage.event(type: "PayloadPart", payload: payload)
            m.headers.append(.init(name: "n", value: .int64(Int64(i) - 30)))
            m.headers.append(.init(name: "é-ü", value: .string("ünïcødé \(i)")))
            messages.append(m)
        }
        var wire: [UInt8] = []
        for m in messages { wire += Array(try EventStreamEncoder.encode(m)) }
        for _ in 0..<20 {
            var pieces: [ArraySlice<UInt8>] = []
            var i = 0
            while i < wire.count {
                let n = min(wire.count - i, 1 + Int(rng.next() % 700))
                pieces.append(wire[i..<i + n])
                i += n
            }
            #expect(try decodePieces(pieces) == messages)
            #expect(try decodePiecesInPlace(pieces) == messages)
        }
        // In place: frames before a corrupt one are delivered, then the error; the decoder stays failed.
        var corrupt = wire
        let secondStart = Array(try EventStreamEncoder.encode(messages[0])).count
        corrupt[secondStart + 20] ^= 0x01
        var d = EventStreamDecoder()
        var got: [EventStreamMessage] = []
        #expect(throws: EventStreamError.self) {
            try corrupt.withUnsafeBytes { raw in try d.decode(raw) { got.append($0.message()) } }
        }
        #expect(got == [messages[0]])
        #expect(throws: EventStreamError.self) { try [UInt8]().withUnsafeBytes { raw in try d.decode(raw) { _ in } } }
        // Flip one bit anywhere in the first frame: always an error, never a wrong message.
        let first = Array(try EventStreamEncoder.encode(messages[0]))
        for i in first.indices {
            var bad = first
            bad[i] ^= 0x10
            #expect(throws: EventStreamError.self, "bit flip at \(i)") { _ = try decodePieces([bad[...]]) }
        }
        // Truncation at every length is reported as truncated (or needs more data).
        for n in 0..<first.count {
            var d = EventStreamDecoder()
            d.feed(Array(first[0..<n]))
            #expect(try d.nextMessage() == nil)
            if n > 0 {
                #expect(throws: EventStreamError.truncated(bufferedBytes: n)) { try d.finish() }
            } else {
                try d.finish()
            }
        }
    }

    @Test("repeated header blocks are validated once; a different block after them is checked again")
    func headerCache() throws {
        var wire: [UInt8] = []
        for i in 0..<3 { wire += Array(try EventStreamEncoder.encode(.event(type: "PayloadPart", payload: Data("p\(i)".utf8)))) }
        wire += Array(try EventStreamEncoder.encode(.exception(type: "ModelStreamError", payload: Data("{}".utf8))))
        var kinds: [Bool] = []
        var d = EventStreamDecoder()
        try wire.withUnsafeBytes { raw in try d.decode(raw) { kinds.append($0.isPayloadPart) } }
        #expect(kinds == [true, true, true, false])
        // Same length as a PayloadPart block, but a duplicate name: must still be rejected after cached frames.
        let dup = EventStreamMessage(headers: [
            .init(name: ":event-type", value: .string("PayloadPart")),
            .init(name: ":event-type", value: .string("application/octet-stream")),
            .init(name: ":message-type", value: .string("event")),
        ])
        var bad: [UInt8] = []
        for _ in 0..<2 { bad += Array(try EventStreamEncoder.encode(.event(type: "PayloadPart", payload: Data("x".utf8)))) }
        bad += Array(try EventStreamEncoder.encode(dup))
        var d2 = EventStreamDecoder()
        var count = 0
        #expect(throws: EventStreamError.invalidHeader("duplicate header ':event-type'")) {
            try bad.withUnsafeBytes { raw in try d2.decode(raw) { _ in count += 1 } }
        }
        #expect(count == 2)
    }

    @Test("limits: oversized frames rejected from the prelude, encoder refuses oversized parts")
    func limits() throws {
        // A prelude declaring 100 MB is refused before any buffering.
        var prelude: [UInt8] = [0x06, 0x00, 0x00, 0x00, 0, 0, 0, 0]
        let crc = CRC32.checksum(prelude)
        prelude += [UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)]
        var d = EventStreamDecoder()
        d.feed(prelude)
        #expect(throws: EventStreamError.self) { _ = try d.nextMessage() }
        // total_length below 16.
        var small: [UInt8] = [0, 0, 0, 15, 0, 0, 0, 0]
        let c2 = CRC32.checksum(small)
        small += [UInt8(c2 >> 24), UInt8((c2 >> 16) & 0xff), UInt8((c2 >> 8) & 0xff), UInt8(c2 & 0xff)]
        #expect(throws: EventStreamError.self) { _ = try EventStreamDecoder.decodeAll(Data(small)) }
        #expect(throws: EventStreamError.self) {
            _ = try EventStreamEncoder.encode(EventStreamMessage(headers: [.init(name: String(repeating: "a", count: 256), value: .bool(true))]))
        }
        #expect(throws: EventStreamError.self) {
            _ = try EventStreamEncoder.encode(EventStreamMessage(headers: [.init(name: "a", value: .string(String(repeating: "x", count: 70_000)))]))
        }
        #expect(throws: EventStreamError.self) {
            _ = try EventStreamEncoder.encode(EventStreamMessage(payload: Data(count: EventStreamLimits.maxPayloadLength + 1)))
        }
    }

    @Test("AsyncSequence wrapper decodes chunked bodies and reports truncation")
    func asyncWrapper() async throws {
        let messages = (0..<5).map { EventStreamMessage.event(type: "PayloadPart", payload: Data("part \($0)".utf8)) }
        var wire = Data()
        for m in messages { wire += try EventStreamEncoder.encode(m) }
        let chunks = stride(from: 0, to: wire.count, by: 7).map { wire[$0..<min($0 + 7, wire.count)] }
        var got: [EventStreamMessage] = []
        for try await m in EventStreamMessages(ChunkSequence(chunks: chunks.map { Data($0) })) { got.append(m) }
        #expect(got == messages)
        #expect(got.map(\.eventType) == Array(repeating: "PayloadPart", count: 5))

        let cut = chunks.dropLast().map { Data($0) }
        var count = 0
        await #expect(throws: EventStreamError.self) {
            for try await _ in EventStreamMessages(ChunkSequence(chunks: cut)) { count += 1 }
        }
        #expect(count == 4)
    }
}

/// A finite async sequence of chunks.
struct ChunkSequence: AsyncSequence, Sendable {
    typealias Element = Data
    let chunks: [Data]
    struct AsyncIterator: AsyncIteratorProtocol {
        var rest: ArraySlice<Data>
        mutating func next() async throws -> Data? { rest.popFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(rest: chunks[...]) }
}

/// SplitMix64: deterministic test randomness.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
