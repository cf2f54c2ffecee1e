import Foundation

/// Normalizers, pre-tokenizers and decoders of tokenizer.json.
extension Tokenizer {
    struct DecoderSpec {
        var byteLevel = false
        var byteFallback = false
        var replacements: [(String, String)] = []
        var stripLeadingSpace = false
    }

    // MARK: Parsing

    static func parseNormalizer(_ any: Any?) throws -> [Normalizer] {
        guard let n = any as? [String: Any], let type = n["type"] as? String else { return [] }
        switch type {
        case "Sequence":
            return try ((n["normalizers"] as? [Any]) ?? []).flatMap { try parseNormalizer($0) }
        case "Prepend":
            return [.prepend((n["prepend"] as? String) ?? "")]
        case "Replace":
            guard let pattern = n["pattern"] as? [String: Any], let from = pattern["String"] as? String else {
                throw LLMError.invalidTokenizer("normalizer Replace with a regex pattern is not supported")
            }
            return [.replace(from, (n["content"] as? String) ?? "")]
        case "NFC": return [.nfc]
        case "NFKC": return [.nfkc]
        case "NFD": return [.nfd]
        case "NFKD": return [.nfkd]
        case "Lowercase": return [.lowercase]
        default:
            throw LLMError.invalidTokenizer("normalizer \(type) is not supported")
        }
    }

    static func parsePreTokenizer(_ any: Any?) throws -> [PreTokenizer] {
        guard let p = any as? [String: Any], let type = p["type"] as? String else { return [] }
        switch type {
        case "Sequence":
            return try ((p["pretokenizers"] as? [Any]) ?? []).flatMap { try parsePreTokenizer($0) }
        case "Metaspace":
            let replacement = ((p["replacement"] as? String) ?? "▁").unicodeScalars.first ?? "▁"
            var scheme = PrependScheme(rawValue: (p["prepend_scheme"] as? String) ?? "") ?? .always
            if p["prepend_scheme"] == nil, let add = jsonBool(p["add_prefix_space"]) { scheme = add ? .always : .never }
            return [.metaspace(replacement: replacement, scheme: scheme, split: jsonBool(p["split"]) ?? true)]
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: jsonBool(p["add_prefix_space"]) ?? true, useRegex: jsonBool(p["use_regex"]) ?? true)]
        case "Digits":
            return [.digits(individual: jsonBool(p["individual_digits"]) ?? false)]
        case "WhitespaceSplit":
            return [.whitespaceSplit]
        case "Split":
            let behavior = SplitBehavior(rawValue: (p["behavior"] as? String) ?? "Isolated") ?? .isolated
            if jsonBool(p["invert"]) == true { throw LLMError.invalidTokenizer("an inverted Split pre-tokenizer is not supported") }
            guard let pattern = p["pattern"] as? [String: Any] else { throw LLMError.invalidTokenizer("Split has no pattern") }
            if let s = pattern["String"] as? String { return [.splitString(s, behavior)] }
            if let r = pattern["Regex"] as? String {
                do { _ = try Regex(r) } catch { throw LLMError.invalidTokenizer("Split regex \(r) cannot be compiled") }
                return [.splitRegex(r, behavior)]
            }
            throw LLMError.invalidTokenizer("Split pattern is neither String nor Regex")
        default:
            throw LLMError.invalidTokenizer("pre-tokenizer \(type) is not supported")
        }
    }

    static func parseDecoder(_ any: Any?) throws -> DecoderSpec {
        var spec = DecoderSpec()
        func visit(_ any: Any?) throws {
            guard let d = any as? [String: Any], let type = d["type"] as? String else { return }
            switch type {
            case "Sequence": for x in (d["decoders"] as? [Any]) ?? [] { try visit(x) }
            case "ByteLevel": spec.byteLevel = true
            case "ByteFallback": spec.byteFallback = true
            case "Fuse": break
            case "Replace":
                if let pattern = d["pattern"] as? [String: Any], let from = pattern["String"] as? String {
                    spec.replacements.append((from, (d["content"] as? String) ?? ""))
                }
            case "Strip":
                if (d["content"] as? String) == " ", (jsonInt(d["start"]) ?? 0) > 0 { spec.stripLeadingSpace = true }
            case "Metaspace":
                let r = (d["replacement"] as? String) ?? "▁"
                spec.replacements.append((r, " "))
                let scheme = (d["prepend_scheme"] as? String) ?? ((jsonBool(d["add_prefix_space"]) ?? true) ? "always" : "never")
                if scheme != "never" { spec.stripLeadingSpace = true }
            default:
                throw LLMError.invalidTokenizer("decoder \(type) is not supported")
            }
        }
        try visit(any)
        return spec
    }

    /// The bytes a token contributes to decoded text.
    static func bytes(of piece: String, decoder: DecoderSpec, isAdded: Bool) -> [UInt8] {
        if decoder.byteLevel {
            var out: [UInt8] = []
            for s in piece.unicodeScalars {
                guard let b = byteDecoder[s.value] else { return Array(piece.utf8) }
                out.append(b)
            }
            return out
        }
        if decoder.byteFallback, !isAdded, piece.utf8.count == 6, piece.hasPrefix("<0x"), piece.hasSuffix(">"),
            let b = UInt8(piece.dropFirst(3).dropLast(), radix: 16)
        {
            return [b]
        }
        var text = piece
        for (from, to) in decoder.replacements { text = replaceScalars(text, from, to) }
        return Array(text.utf8)
    }

    // MARK: Normalizing and pre-tokenizing

    static func replaceScalars(_ text: String, _ from: String, _ to: String) -> String {
        let f = Array(from.unicodeScalars)
        guard !f.isEmpty else { return text }
        let s = Array(text.unicodeScalars)
        return String(String.UnicodeScalarView(replaceScalars(s, f, Array(to.unicodeScalars))))
    }

    static func replaceScalars(_ s: [Unicode.Scalar], _ f: [Unicode.Scalar], _ t: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard !f.isEmpty, s.count >= f.count else { return s }
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == f[0], i + f.count <= s.count, s[i..<(i + f.count)].elementsEqual(f) {
                out += t
                i += f.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    static func normalize(_ s: [Unicode.Scalar], _ n: Normalizer) -> [Unicode.Scalar] {
        switch n {
        case .prepend(let p): return s.isEmpty ? s : Array(p.unicodeScalars) + s
        case .replace(let f, let t): return replaceScalars(s, Array(f.unicodeScalars), Array(t.unicodeScalars))
        case .nfc: return Array(String(String.UnicodeScalarView(s)).precomposedStringWithCanonicalMapping.unicodeScalars)
        case .nfkc: return Array(String(String.UnicodeScalarView(s)).precomposedStringWithCompatibilityMapping.unicodeScalars)
        case .nfd: return Array(String(String.UnicodeScalarView(s)).decomposedStringWithCanonicalMapping.unicodeScalars)
        case .nfkd: return Array(String(String.UnicodeScalarView(s)).decomposedStringWithCompatibilityMapping.unicodeScalars)
        case .lowercase: return Array(String(String.UnicodeScalarView(s)).lowercased().unicodeScalars)
        }
    }

    static func preTokenize(_ w: [Unicode.Scalar], _ p: PreTokenizer, first: Bool) -> [[Unicode.Scalar]] {
        switch p {
        case .metaspace(let r, let scheme, let split):
            var s = w.map { $0 == " " ? r : $0 }
            let prepend: Bool
            switch scheme {
            case .always: prepend = true
            case .first: prepend = first
            case .never: prepend = false
            }
            if prepend && s.first != r { s.insert(r, at: 0) }
            guard split else { return [s] }
            var out: [[Unicode.Scalar]] = []
            var cur: [Unicode.Scalar] = []
            for c in s {
                if c == r && !cur.isEmpty { out.append(cur); cur = [] }
                cur.append(c)
            }
            if !cur.isEmpty { out.append(cur) }
            return out
        case .byteLevel(let addPrefixSpace, let useRegex):
            var s = w
            if addPrefixSpace && s.first != " " { s.insert(" ", at: 0) }
            return useRegex ? gpt2Split(s) : [s]
        case .digits(let individual):
            var out: [[Unicode.Scalar]] = []
            var cur: [Unicode.Scalar] = []
            var curIsDigit = false
            for c in w {
                let d = isNumber(c)
                if d && individual {
                    if !cur.isEmpty { out.append(cur) }
                    out.append([c])
                    cur = []
                    continue
                }
                if !cur.isEmpty && d != curIsDigit { out.append(cur); cur = [] }
                cur.append(c)
                curIsDigit = d
            }
            if !cur.isEmpty { out.append(cur) }
            return out
        case .whitespaceSplit:
            var out: [[Unicode.Scalar]] = []
            var cur: [Unicode.Scalar] = []
            for c in w {
                if c.properties.isWhitespace {
                    if !cur.isEmpty { out.append(cur); cur = [] }
                } else {
                    cur.append(c)
                }
            }
            if !cur.isEmpty { out.append(cur) }
            return out
        case .splitString(let pattern, let behavior):
            let f = Array(pattern.unicodeScalars)
            var ranges: [Range<Int>] = []
            var i = 0
            while i < w.count {
                if !f.isEmpty, i + f.count <= w.count, w[i..<(i + f.count)].elementsEqual(f) {
                    ranges.append(i..<(i + f.count))
                    i += f.count
                } else {
                    i += 1
                }
            }
            return applySplit(w, matches: ranges, behavior)
        case .splitRegex(let pattern, let behavior):
            if pattern == gpt2Pattern && behavior == .isolated { return gpt2Split(w) }
            guard let regex = try? Regex(pattern).matchingSemantics(.unicodeScalar) else { return [w] }
            let text = String(String.UnicodeScalarView(w))
            let scalars = text.unicodeScalars
            var ranges: [Range<Int>] = []
            for m in text.matches(of: regex) where !m.range.isEmpty {
                let lo = scalars.distance(from: scalars.startIndex, to: m.range.lowerBound)
                let hi = scalars.distance(from: scalars.startIndex, to: m.range.upperBound)
                ranges.append(lo..<hi)
            }
            return applySplit(w, matches: ranges, behavior)
        }
    }

    static func applySplit(_ w: [Unicode.Scalar], matches: [Range<Int>], _ behavior: SplitBehavior) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = []
        var last = 0
        for r in matches {
            let gap = Array(w[last..<r.lowerBound])
            let m = Array(w[r])
            switch behavior {
            case .isolated:
                if !gap.isEmpty { out.append(gap) }
                out.append(m)
            case .removed:
                if !gap.isEmpty { out.append(gap) }
            case .mergedWithPrevious:
                out.append(gap + m)
            case .mergedWithNext:
                if !gap.isEmpty { out.append(gap) }
                out.append(m)
            case .contiguous:
                if !gap.isEmpty { out.append(gap) }
                if let l = out.last, l == m, last == r.lowerBound { out[out.count - 1] += m } else { out.append(m) }
            }
            last = r.upperBound
        }
        if last < w.count {
            let rest = Array(w[last...])
            if behavior == .mergedWithNext, let l = out.last, !matches.isEmpty, matches.last!.upperBound == last {
                out[out.count - 1] = l + rest
            } else {
                out.append(rest)
            }
        }
        return out.filter { !$0.isEmpty }
    }

    static let gpt2Pattern = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    /// The GPT-2 pre-tokenizer regex, hand-coded over Unicode scalars:
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    static func gpt2Split(_ s: [Unicode.Scalar]) -> [[Unicode.Scalar]] {
        var out: [[Unicode.Scalar]] = []
        let n = s.count
        var i = 0
        while i < n {
            // Contractions.
            if s[i] == "'" && i + 1 < n {
                let c1 = s[i + 1]
                if c1 == "s" || c1 == "t" || c1 == "m" || c1 == "d" {
                    out.append(Array(s[i..<(i + 2)])); i += 2; continue
                }
                if i + 2 < n {
                    let pair = [c1, s[i + 2]]
                    if pair == ["r", "e"] || pair == ["v", "e"] || pair == ["l", "l"] {
                        out.append(Array(s[i..<(i + 3)])); i += 3; continue
                    }
                }
            }
            // Optional space then a class run.
            var j = i
            if s[j] == " " && j + 1 < n { j += 1 }
            let c = s[j]
            if !(j == i && isSpace(c)) && !(j > i && isSpace(c)) {
                let cls: (Unicode.Scalar) -> Bool
                if isLetter(c) { cls = isLetter } else if isNumber(c) { cls = isNumber } else {
                    cls = { !isSpace($0) && !isLetter($0) && !isNumber($0) }
                }
                var k = j + 1
                while k < n && cls(s[k]) { k += 1 }
                out.append(Array(s[i..<k]))
                i = k
                continue
            }
            // Whitespace run.
            var k = i
            while k < n && isSpace(s[k]) { k += 1 }
            if k == n || k - i == 1 {
                out.append(Array(s[i..<k]))
                i = k
            } else {
                out.append(Array(s[i..<(k - 1)]))
                i = k - 1
            }
        }
        return out
    }

    /// GPT-2's byte → printable character table.
    static let byteEncoder: [Unicode.Scalar] = {
        var bs: [Int] = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var extra = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + extra)
            extra += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    static let byteDecoder: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        for (b, c) in byteEncoder.enumerated() { d[c.value] = UInt8(b) }
        return d
    }()
}
