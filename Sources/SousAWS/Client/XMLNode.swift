import Foundation

/// A minimal XML element tree for AWS responses (S3 / STS / query-protocol errors).
/// Namespaces are ignored (prefixes stripped), attributes are not kept.
struct XMLNode: Sendable {
    var name: String
    var children: [XMLNode] = []
    var text: String = ""

    /// The first direct child named `name`.
    func child(_ name: String) -> XMLNode? { children.first { $0.name == name } }
    /// All direct children named `name`.
    func all(_ name: String) -> [XMLNode] { children.filter { $0.name == name } }
    /// Text of the first direct child named `name`.
    func value(_ name: String) -> String? { child(name)?.text }

    /// Depth-first search for the first element named `name` (self included).
    func find(_ name: String) -> XMLNode? {
        if self.name == name { return self }
        for c in children { if let f = c.find(name) { return f } }
        return nil
    }

    /// Parses a document; nil when it is not well-formed enough to yield a root element.
    static func parse(_ data: Data) -> XMLNode? {
        var p = XMLTinyParser(bytes: Array(data))
        return p.parseDocument()
    }
}

private struct XMLTinyParser {
    let bytes: [UInt8]
    var i = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func parseDocument() -> XMLNode? {
        var stack: [XMLNode] = []
        var root: XMLNode?
        var textBuf: [UInt8] = []
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "<") {
                if !stack.isEmpty && !textBuf.isEmpty {
                    stack[stack.count - 1].text += Self.decodeEntities(textBuf)
                }
                textBuf.removeAll(keepingCapacity: true)
                if starts("<?") { skip(past: "?>"); continue }
                if starts("<!--") { skip(past: "-->"); continue }
                if starts("<![CDATA[") {
                    i += 9
                    let start = i
                    skip(past: "]]>")
                    let end = max(start, i - 3)
                    if !stack.isEmpty { stack[stack.count - 1].text += String(decoding: bytes[start..<end], as: UTF8.self) }
                    continue
                }
                if starts("<!") { skip(past: ">"); continue }
                if starts("</") {
                    skip(past: ">")
                    guard var done = stack.popLast() else { return nil }
                    done.text = done.children.isEmpty ? done.text : done.text.trimmingCharacters(in: .whitespacesAndNewlines)
                    if stack.isEmpty { root = done; return root }
                    stack[stack.count - 1].children.append(done)
                    continue
                }
                // Start tag.
                i += 1
                let nameStart = i
                while i < bytes.count, !Self.isSpace(bytes[i]), bytes[i] != UInt8(ascii: ">"), bytes[i] != UInt8(ascii: "/") { i += 1 }
                var name = String(decoding: bytes[nameStart..<i], as: UTF8.self)
                if let colon = name.lastIndex(of: ":") { name = String(name[name.index(after: colon)...]) }
                // Skip attributes (respecting quotes).
                var quote: UInt8? = nil
                var selfClosing = false
                while i < bytes.count {
                    let b = bytes[i]
                    if let q = quote {
                        if b == q { quote = nil }
                    } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                        quote = b
                    } else if b == UInt8(ascii: ">") {
                        selfClosing = i > 0 && bytes[i - 1] == UInt8(ascii: "/")
                        break
                    }
                    i += 1
                }
                i += 1
                let node = XMLNode(name: name)
                if selfClosing {
                    if stack.isEmpty { return node }
                    stack[stack.count - 1].children.append(node)
                } else {
                    stack.append(node)
                }
            } else {
                textBuf.append(bytes[i])
                i += 1
            }
        }
        return root
    }

    func starts(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard i + u.count <= bytes.count else { return false }
        return Array(bytes[i..<(i + u.count)]) == u
    }

    mutating func skip(past s: String) {
        let u = Array(s.utf8)
        while i < bytes.count {
            if i + u.count <= bytes.count && Array(bytes[i..<(i + u.count)]) == u {
                i += u.count
                return
            }
            i += 1
        }
    }

    static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }

    static func decodeEntities(_ raw: [UInt8]) -> String {
        let s = String(decoding: raw, as: UTF8.self)
        guard s.contains("&") else { return s }
        var out = ""
        var rest = Substring(s)
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";"), rest.distance(from: amp, to: semi) <= 10 else {
                out += "&"
                rest = rest[rest.index(after: amp)...]
                continue
            }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                var scalar: Unicode.Scalar?
                if entity.hasPrefix("#x") || entity.hasPrefix("#X") {
                    scalar = UInt32(entity.dropFirst(2), radix: 16).flatMap(Unicode.Scalar.init)
                } else if entity.hasPrefix("#") {
                    scalar = UInt32(entity.dropFirst(1)).flatMap(Unicode.Scalar.init)
                }
                if let sc = scalar { out.unicodeScalars.append(sc) } else { out += "&" + entity + ";" }
            }
            rest = rest[rest.index(after: semi)...]
        }
        out += rest
        return out
    }
}
