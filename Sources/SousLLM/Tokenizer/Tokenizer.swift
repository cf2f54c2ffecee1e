import Foundation

/// A Hugging Face `tokenizer.json` BPE tokenizer.
///
/// Supports the SentencePiece-style layouts Llama 2 uses (the legacy `Prepend("▁")`+`Replace(" ","▁")`
/// normalizer and the newer `Metaspace` pre-tokenizer) with `byte_fallback`/`fuse_unk`, and byte-level
/// BPE (GPT-2 style: split regex plus byte-to-unicode map) as SmolLM2 uses. Added and special tokens
/// are matched inside the text before normalization.
public final class Tokenizer: Sendable {
    /// Piece string → id.
    let vocab: [String: Int]
    /// Id → piece string (added tokens included).
    let pieces: [String]
    /// (left id << 32 | right id) → (rank << 32 | merged id).
    let merges: [UInt64: UInt64]
    let addedTokens: [AddedToken]
    let addedByFirstScalar: [UInt32: [Int]]
    /// Ids of special added tokens (skipped when decoding).
    public let specialTokenIDs: Set<Int>
    let unkID: Int?
    let byteFallback: Bool
    let fuseUnk: Bool
    let ignoreMerges: Bool
    let byteTokenIDs: [Int?]
    let normalizers: [Normalizer]
    let preTokenizers: [PreTokenizer]
    let prefixIDs: [Int]
    let suffixIDs: [Int]
    /// Bytes each token contributes to decoded text.
    let tokenBytes: [[UInt8]]
    /// Whether decoding drops one leading space of the text (SentencePiece decoders).
    let stripsLeadingSpace: Bool

    /// The beginning-of-sequence token id, if the tokenizer has one.
    public let bosTokenID: Int?
    /// The end-of-sequence token id, if the tokenizer has one.
    public let eosTokenID: Int?

    struct AddedToken: Sendable {
        let content: [Unicode.Scalar]
        let id: Int
        let special: Bool
        let lstrip: Bool
        let rstrip: Bool
    }

    enum Normalizer: Sendable {
        case prepend(String)
        case replace(String, String)
        case nfc, nfkc, nfd, nfkd, lowercase
    }

    enum PrependScheme: String, Sendable { case always, first, never }

    enum SplitBehavior: String, Sendable {
        case isolated = "Isolated", removed = "Removed", mergedWithPrevious = "MergedWithPrevious"
        case mergedWithNext = "MergedWithNext", contiguous = "Contiguous"
    }

    enum PreTokenizer: Sendable {
        case metaspace(replacement: Unicode.Scalar, scheme: PrependScheme, split: Bool)
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        case digits(individual: Bool)
        case splitString(String, SplitBehavior)
        case splitRegex(String, SplitBehavior)
        case whitespaceSplit
    }

    /// Loads `tokenizer.json` (and `tokenizer_config.json` when present) from a snapshot directory.
    public static func load(directory: String) throws -> Tokenizer {
        let dir = URL(fileURLWithPath: directory)
        let path = dir.appendingPathComponent("tokenizer.json").path
        guard FileManager.default.fileExists(atPath: path) else { throw LLMError.missingFile(path) }
        let configPath = dir.appendingPathComponent("tokenizer_config.json").path
        let config = FileManager.default.fileExists(atPath: configPath) ? try readJSONObject(configPath) : [:]
        return try Tokenizer(json: try readJSONObject(path), config: config)
    }

    /// Loads a standalone `tokenizer.json` file.
    public convenience init(tokenizerJSON path: String) throws {
        try self.init(json: try readJSONObject(path), config: [:])
    }

    init(json: [String: Any], config: [String: Any]) throws {
        guard let model = json["model"] as? [String: Any] else { throw LLMError.invalidTokenizer("it has no model section") }
        let type = (model["type"] as? String) ?? "BPE"
        guard type == "BPE" else { throw LLMError.invalidTokenizer("model type \(type) is not supported (BPE only)") }
        guard let vocabAny = model["vocab"] as? [String: Any] else { throw LLMError.invalidTokenizer("model.vocab is missing") }
        if let prefix = model["continuing_subword_prefix"] as? String, !prefix.isEmpty {
            throw LLMError.invalidTokenizer("continuing_subword_prefix is not supported")
        }
        if let suffix = model["end_of_word_suffix"] as? String, !suffix.isEmpty {
            throw LLMError.invalidTokenizer("end_of_word_suffix is not supported")
        }
        var vocab: [String: Int] = [:]
        vocab.reserveCapacity(vocabAny.count)
        var maxID = -1
        for (piece, idAny) in vocabAny {
            guard let id = jsonInt(idAny), id >= 0 else { throw LLMError.invalidTokenizer("vocab entry \(piece) has no id") }
            vocab[piece] = id
            maxID = max(maxID, id)
        }
        // Added tokens (may extend the vocabulary).
        var added: [AddedToken] = []
        var special = Set<Int>()
        for entry in (json["added_tokens"] as? [[String: Any]]) ?? [] {
            guard let content = entry["content"] as? String, let id = jsonInt(entry["id"]) else { continue }
            let isSpecial = jsonBool(entry["special"]) ?? false
            added.append(
                AddedToken(
                    content: Array(content.unicodeScalars), id: id, special: isSpecial,
                    lstrip: jsonBool(entry["lstrip"]) ?? false, rstrip: jsonBool(entry["rstrip"]) ?? false))
            if isSpecial { special.insert(id) }
            maxID = max(maxID, id)
        }
        var pieces = [String](repeating: "", count: maxID + 1)
        for (p, id) in vocab { pieces[id] = p }
        for a in added { pieces[a.id] = String(String.UnicodeScalarView(a.content)) }
        added.sort { $0.content.count > $1.content.count }
        var byFirst: [UInt32: [Int]] = [:]
        for (i, a) in added.enumerated() where !a.content.isEmpty { byFirst[a.content[0].value, default: []].append(i) }

        // Merges: "a b" strings or ["a", "b"] pairs.
        var merges: [UInt64: UInt64] = [:]
        let mergeList = (model["merges"] as? [Any]) ?? []
        merges.reserveCapacity(mergeList.count)
        for (rank, m) in mergeList.enumerated() {
            let pair: (String, String)
            if let s = m as? String {
                // Split on the scalar " " (a Character search would glue " " to a following combining mark).
                let scalars = s.unicodeScalars
                guard let space = scalars.firstIndex(of: " ") else { throw LLMError.invalidTokenizer("merge \"\(s)\" is not a pair") }
                pair = (String(scalars[..<space]), String(scalars[scalars.index(after: space)...]))
            } else if let a = m as? [String], a.count == 2 {
                pair = (a[0], a[1])
            } else {
                throw LLMError.invalidTokenizer("merge #\(rank) is neither \"a b\" nor [\"a\",\"b\"]")
            }
            guard let l = vocab[pair.0], let r = vocab[pair.1], let merged = vocab[pair.0 + pair.1] else {
                throw LLMError.invalidTokenizer("merge \(pair.0) \(pair.1) uses a piece missing from the vocabulary")
            }
            let key = UInt64(l) << 32 | UInt64(r)
            if merges[key] == nil { merges[key] = UInt64(rank) << 32 | UInt64(merged) }
        }
        self.vocab = vocab
        self.pieces = pieces
        self.merges = merges
        self.addedTokens = added
        self.addedByFirstScalar = byFirst
        self.specialTokenIDs = special
        self.unkID = (model["unk_token"] as? String).flatMap { vocab[$0] }
        self.byteFallback = jsonBool(model["byte_fallback"]) ?? false
        self.fuseUnk = jsonBool(model["fuse_unk"]) ?? false
        self.ignoreMerges = jsonBool(model["ignore_merges"]) ?? false
        var byteIDs = [Int?](repeating: nil, count: 256)
        for b in 0..<256 { byteIDs[b] = vocab[Tokenizer.bytePiece(UInt8(b))] }
        self.byteTokenIDs = byteIDs
        self.normalizers = try Tokenizer.parseNormalizer(json["normalizer"])
        self.preTokenizers = try Tokenizer.parsePreTokenizer(json["pre_tokenizer"])

        // Post-processor: the ids TemplateProcessing puts around a single sequence.
        var prefix: [Int] = []
        var suffix: [Int] = []
        func template(_ pp: [String: Any]) {
            guard (pp["type"] as? String) == "TemplateProcessing", let single = pp["single"] as? [[String: Any]] else { return }
            let specials = (pp["special_tokens"] as? [String: Any]) ?? [:]
            var seenSequence = false
            for item in single {
                if item["Sequence"] != nil { seenSequence = true; continue }
                guard let st = item["SpecialToken"] as? [String: Any], let name = st["id"] as? String else { continue }
                let ids = jsonIntList((specials[name] as? [String: Any])?["ids"])
                let resolved = ids.isEmpty ? (vocab[name].map { [$0] } ?? []) : ids
                if seenSequence { suffix += resolved } else { prefix += resolved }
            }
        }
        if let pp = json["post_processor"] as? [String: Any] {
            if (pp["type"] as? String) == "Sequence" {
                for p in (pp["processors"] as? [[String: Any]]) ?? [] { template(p) }
            } else {
                template(pp)
            }
        }
        func tokenName(_ any: Any?) -> String? {
            if let s = any as? String { return s }
            return (any as? [String: Any])?["content"] as? String
        }
        func lookup(_ name: String?) -> Int? {
            guard let name else { return nil }
            return vocab[name] ?? added.first(where: { String(String.UnicodeScalarView($0.content)) == name })?.id
        }
        let bos = lookup(tokenName(config["bos_token"]))
        let eos = lookup(tokenName(config["eos_token"]))
        if prefix.isEmpty, jsonBool(config["add_bos_token"]) == true, let bos { prefix = [bos] }
        if suffix.isEmpty, jsonBool(config["add_eos_token"]) == true, let eos { suffix = [eos] }
        self.prefixIDs = prefix
        self.suffixIDs = suffix
        self.bosTokenID = bos ?? vocab["<s>"] ?? prefix.first
        self.eosTokenID = eos ?? vocab["</s>"]

        // Decoder: how each token maps to bytes.
        let decoder = try Tokenizer.parseDecoder(json["decoder"])
        var bytes: [[UInt8]] = []
        bytes.reserveCapacity(pieces.count)
        let addedIDs = Set(added.map(\.id))
        for (id, piece) in pieces.enumerated() {
            bytes.append(Tokenizer.bytes(of: piece, decoder: decoder, isAdded: addedIDs.contains(id)))
        }
        self.tokenBytes = bytes
        self.stripsLeadingSpace = decoder.stripLeadingSpace
    }

    /// The number of token ids (vocabulary plus added tokens).
    public var vocabularySize: Int { pieces.count }

    /// The piece string of `id` as stored in tokenizer.json.
    public func piece(for id: Int) -> String? { id >= 0 && id < pieces.count ? pieces[id] : nil }

    /// The id of a piece or added token.
    public func id(for piece: String) -> Int? {
        vocab[piece] ?? addedTokens.first(where: { String(String.UnicodeScalarView($0.content)) == piece })?.id
    }

    static func bytePiece(_ b: UInt8) -> String {
        let hex = String(b, radix: 16, uppercase: true)
        return "<0x" + (hex.count == 1 ? "0" + hex : hex) + ">"
    }

    // MARK: - Encoding

    /// Encodes `text` to token ids; `addSpecialTokens` adds the post-processor's BOS/EOS.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] {
        var ids: [Int] = addSpecialTokens ? prefixIDs : []
        let scalars = Array(text.unicodeScalars)
        for segment in splitOnAddedTokens(scalars) {
            switch segment {
            case .added(let id): ids.append(id)
            case .text(let s, let offset): encodeSegment(s, atStart: offset == 0, into: &ids)
            }
        }
        if addSpecialTokens { ids += suffixIDs }
        return ids
    }

    enum Segment { case text([Unicode.Scalar], Int), added(Int) }

    func splitOnAddedTokens(_ s: [Unicode.Scalar]) -> [Segment] {
        if addedTokens.isEmpty { return [.text(s, 0)] }
        var out: [Segment] = []
        var start = 0
        var i = 0
        var pendingRStrip = false
        while i < s.count {
            if pendingRStrip {
                if s[i].properties.isWhitespace { i += 1; start = i; continue }
                pendingRStrip = false
            }
            var matched: AddedToken?
            if let candidates = addedByFirstScalar[s[i].value] {
                for c in candidates {
                    let a = addedTokens[c]
                    if i + a.content.count <= s.count, s[i..<(i + a.content.count)].elementsEqual(a.content) {
                        matched = a
                        break
                    }
                }
            }
            guard let a = matched else { i += 1; continue }
            var end = i
            if a.lstrip { while end > start, s[end - 1].properties.isWhitespace { end -= 1 } }
            if end > start { out.append(.text(Array(s[start..<end]), start)) }
            out.append(.added(a.id))
            i += a.content.count
            start = i
            pendingRStrip = a.rstrip
        }
        if start < s.count { out.append(.text(Array(s[start...]), start)) }
        return out
    }

    func encodeSegment(_ input: [Unicode.Scalar], atStart: Bool, into ids: inout [Int]) {
        var s = input
        for n in normalizers { s = Tokenizer.normalize(s, n) }
        if s.isEmpty { return }
        var words: [[Unicode.Scalar]] = [s]
        var byteLevel = false
        for p in preTokenizers {
            switch p {
            case .byteLevel: byteLevel = true
            default: break
            }
            words = words.enumerated().flatMap { index, w in Tokenizer.preTokenize(w, p, first: atStart && index == 0) }
        }
        for w in words where !w.isEmpty {
            if byteLevel {
                bpe(String(String.UnicodeScalarView(w)).utf8.map { Tokenizer.byteEncoder[Int($0)] }, into: &ids)
            } else {
                bpe(w, into: &ids)
            }
        }
    }

    /// Byte-pair merges on one pre-tokenized word, lowest rank first (leftmost on ties).
    func bpe(_ word: [Unicode.Scalar], into ids: inout [Int]) {
        if ignoreMerges, let id = vocab[String(String.UnicodeScalarView(word))] {
            ids.append(id)
            return
        }
        var symbols: [Int] = []
        symbols.reserveCapacity(word.count)
        var pendingUnk = false
        for c in word {
            if let id = vocab[String(c)] {
                if pendingUnk, let unk = unkID { symbols.append(unk); pendingUnk = false }
                symbols.append(id)
                continue
            }
            if byteFallback {
                let utf8 = Array(String(c).utf8)
                let bytes = utf8.compactMap { byteTokenIDs[Int($0)] }
                if bytes.count == utf8.count {
                    symbols += bytes
                    continue
                }
            }
            guard let unk = unkID else { continue }
            if pendingUnk && !fuseUnk { symbols.append(unk) }
            pendingUnk = true
        }
        if pendingUnk, let unk = unkID { symbols.append(unk) }
        if symbols.count < 2 {
            ids += symbols
            return
        }
        // Linked list over symbols plus a min-heap of candidate merges keyed by (rank, position).
        let n = symbols.count
        var prev = Array(-1..<(n - 1))
        var next = Array(1...n)
        next[n - 1] = -1
        var alive = [Bool](repeating: true, count: n)
        var heap = MergeHeap()
        for i in 0..<(n - 1) {
            if let m = merges[UInt64(symbols[i]) << 32 | UInt64(symbols[i + 1])] {
                heap.push(rank: Int(m >> 32), pos: i, newID: Int(m & 0xffff_ffff))
            }
        }
        while let top = heap.pop() {
            let i = top.pos
            guard alive[i], next[i] >= 0 else { continue }
            let j = next[i]
            guard let m = merges[UInt64(symbols[i]) << 32 | UInt64(symbols[j])], Int(m & 0xffff_ffff) == top.newID,
                Int(m >> 32) == top.rank
            else { continue }
            symbols[i] = top.newID
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[next[j]] = i }
            if prev[i] >= 0, let m = merges[UInt64(symbols[prev[i]]) << 32 | UInt64(symbols[i])] {
                heap.push(rank: Int(m >> 32), pos: prev[i], newID: Int(m & 0xffff_ffff))
            }
            if next[i] >= 0, let m = merges[UInt64(symbols[i]) << 32 | UInt64(symbols[next[i]])] {
                heap.push(rank: Int(m >> 32), pos: i, newID: Int(m & 0xffff_ffff))
            }
        }
        var i = 0
        while i >= 0 {
            ids.append(symbols[i])
            i = next[i]
        }
    }

    // MARK: - Decoding

    /// Decodes ids to text (special tokens skipped unless `skipSpecialTokens` is false).
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String {
        var d = makeStreamingDecoder(skipSpecialTokens: skipSpecialTokens)
        var text = ""
        for id in ids { text += d.append(id) }
        return text + d.flush()
    }

    /// A decoder that turns ids into text incrementally, holding back incomplete UTF-8 characters.
    public func makeStreamingDecoder(skipSpecialTokens: Bool = true) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecialTokens: skipSpecialTokens)
    }

    func bytes(for id: Int) -> [UInt8] { id >= 0 && id < tokenBytes.count ? tokenBytes[id] : [] }
}

/// Incremental detokenizer: `append` returns the text completed by one more token (possibly empty while
/// a UTF-8 character is incomplete); `flush` returns what is left (incomplete bytes become U+FFFD).
public struct StreamingDecoder: Sendable {
    let tokenizer: Tokenizer
    let skipSpecialTokens: Bool
    var pending: [UInt8] = []
    var atStart = true

    init(tokenizer: Tokenizer, skipSpecialTokens: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// Adds one token and returns the newly completed text.
    public mutating func append(_ id: Int) -> String {
        if skipSpecialTokens && tokenizer.specialTokenIDs.contains(id) { return "" }
        var bytes = tokenizer.bytes(for: id)
        if atStart && !bytes.isEmpty {
            atStart = false
            if tokenizer.stripsLeadingSpace && bytes.first == 0x20 { bytes.removeFirst() }
        }
        pending += bytes
        let keep = StreamingDecoder.incompleteSuffixLength(pending)
        let emit = pending.count - keep
        if emit == 0 { return "" }
        let text = String(decoding: pending[..<emit], as: UTF8.self)
        pending.removeFirst(emit)
        return text
    }

    /// Returns any held bytes (an unfinished character decodes as U+FFFD) and resets.
    public mutating func flush() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The length of a trailing, so far valid but unfinished UTF-8 sequence.
    static func incompleteSuffixLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var continuation = 0
        while i >= 0 && continuation < 4 {
            let c = b[i]
            if c & 0xC0 == 0x80 {
                continuation += 1
                i -= 1
                continue
            }
            let need: Int
            if c & 0xE0 == 0xC0 { need = 2 } else if c & 0xF0 == 0xE0 { need = 3 } else if c & 0xF8 == 0xF0 { need = 4 } else { return 0 }
            return continuation + 1 < need ? continuation + 1 : 0
        }
        return 0
    }
}

/// A binary min-heap of (rank, position) merge candidates.
struct MergeHeap {
    struct Item { let rank: Int; let pos: Int; let newID: Int }
    private var items: [Item] = []

    private static func less(_ a: Item, _ b: Item) -> Bool { a.rank != b.rank ? a.rank < b.rank : a.pos < b.pos }

    mutating func push(rank: Int, pos: Int, newID: Int) {
        items.append(Item(rank: rank, pos: pos, newID: newID))
        var c = items.count - 1
        while c > 0 {
            let p = (c - 1) / 2
            if MergeHeap.less(items[c], items[p]) { items.swapAt(c, p); c = p } else { break }
        }
    }

    mutating func pop() -> Item? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var p = 0
            while true {
                let l = 2 * p + 1, r = l + 1
                var m = p
                if l < items.count && MergeHeap.less(items[l], items[m]) { m = l }
                if r < items.count && MergeHeap.less(items[r], items[m]) { m = r }
                if m == p { break }
                items.swapAt(p, m)
                p = m
            }
        }
        return first
    }
}
