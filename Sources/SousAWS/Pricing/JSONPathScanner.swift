import Foundation

/// A JSON reader that walks a document without building it: it reports each scalar with the object keys above it,
/// and skips (without allocating) every object or array the caller does not want to enter. Used on the AWS Price
/// List offer files, which hold tens of megabytes of which sous needs a few thousand values.
struct JSONPathScanner {
    /// A syntax error at a byte offset.
    struct SyntaxError: Error, Equatable {
        var offset: Int
        var message: String
    }

    /// Whether to enter the object or array at this path (its keys; an array adds no key).
    typealias Enter = (_ path: [String]) -> Bool
    /// A string, number, `true`, `false` or `null` (its text, strings unescaped) at this path.
    typealias Visit = (_ path: [String], _ value: String) -> Void

    private let bytes: UnsafeRawBufferPointer
    private var i = 0
    private var path: [String] = []

    private init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Walks `bytes`, one JSON value with nothing but white space after it.
    static func scan(_ bytes: UnsafeRawBufferPointer, enter: Enter, visit: Visit) throws(SyntaxError) {
        var s = JSONPathScanner(bytes)
        try s.value(depth: 0, enter: enter, visit: visit)
        s.skipSpace()
        if s.i != bytes.count { throw s.error("unexpected data after the document") }
    }

    private func error(_ message: String) -> SyntaxError { SyntaxError(offset: i, message: message) }

    private mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws(SyntaxError) {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else { throw error("expected \(what)") }
        i += 1
    }

    private mutating func value(depth: Int, enter: Enter, visit: Visit) throws(SyntaxError) {
        guard depth < 64 else { throw error("nested more than 64 levels deep") }
        skipSpace()
        guard i < bytes.count else { throw error("unexpected end of the document") }
        switch bytes[i] {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            if enter(path) { try container(depth: depth, enter: enter, visit: visit) } else { try skipContainer() }
        case UInt8(ascii: "\""):
            visit(path, try string())
        default:
            let start = i
            while i < bytes.count, !",]} \n\r\t".utf8.contains(bytes[i]) { i += 1 }
            guard i > start else { throw error("expected a value") }
            visit(path, String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self))
        }
    }

    private mutating func container(depth: Int, enter: Enter, visit: Visit) throws(SyntaxError) {
        let object = bytes[i] == UInt8(ascii: "{")
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        i += 1
        skipSpace()
        if i < bytes.count, bytes[i] == close {
            i += 1
            return
        }
        while true {
            if object {
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                path.append(try string())
                try expect(UInt8(ascii: ":"), "':'")
            }
            try value(depth: depth + 1, enter: enter, visit: visit)
            if object { path.removeLast() }
            skipSpace()
            guard i < bytes.count else { throw error("unexpected end of the document") }
            if bytes[i] == close {
                i += 1
                return
            }
            guard bytes[i] == UInt8(ascii: ",") else { throw error("expected ',' or '\(Character(Unicode.Scalar(close)))'") }
            i += 1
        }
    }

    /// Skips an object or array, minding strings (a bracket inside a string does not count).
    private mutating func skipContainer() throws(SyntaxError) {
        var depth = 0
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                try skipString()
                continue
            }
            i += 1
            if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                depth += 1
            } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                depth -= 1
                if depth == 0 { return }
            }
        }
        throw error("unexpected end of the document")
    }

    private mutating func skipString() throws(SyntaxError) {
        i += 1
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""):
                i += 1
                return
            default: i += 1
            }
        }
        throw error("unterminated string")
    }

    /// A string at `i` (its opening quote), unescaped.
    private mutating func string() throws(SyntaxError) -> String {
        i += 1
        let start = i
        var plain = true
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") {
                plain = false
                i += 1
            }
            i += 1
        }
        guard i < bytes.count else { throw error("unterminated string") }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<i])
        i += 1
        if plain { return String(decoding: raw, as: UTF8.self) }
        // Rare in offer files: let Foundation unescape the quoted string.
        var quoted = Data([UInt8(ascii: "\"")])
        quoted.append(contentsOf: raw)
        quoted.append(UInt8(ascii: "\""))
        guard let s = try? JSONDecoder().decode(String.self, from: quoted) else { throw SyntaxError(offset: start, message: "invalid string escape") }
        return s
    }
}
