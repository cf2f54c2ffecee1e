import CSousMD5

/// MD5 of several messages at once, sixteen to a batch, one message per SIMD lane.
///
/// MD5 is a single dependency chain, so one message cannot go faster than about five cycles a byte
/// (OpenSSL's assembly is there already). Sixteen messages hashed side by side fill the vector units instead:
/// each step is the same vector instruction for every lane. A server that must MD5 every request body (S3's
/// ETag) and has several bodies in hand at once spends a fraction of the CPU this way. This is the
/// "multi-buffer" hashing Intel's ISA-L offers storage servers.
///
/// The result is plain MD5 (RFC 1321) of each message, whatever the batch: the tests compare it with OpenSSL.
public enum MultiMD5 {
    /// Below this many messages a batch is not worth it: each is hashed alone with OpenSSL.
    public static let minimumLanes = 4

    /// The MD5 digest (16 bytes) of each message, in order.
    public static func digests(_ messages: [UnsafeRawBufferPointer]) -> [[UInt8]] {
        var out = [[UInt8]](repeating: [], count: messages.count)
        // Batches of similar lengths (within a factor of two of the longest), so lanes finish close together.
        let order = messages.indices.sorted { messages[$0].count > messages[$1].count }
        var start = 0
        while start < order.count {
            let longest = messages[order[start]].count
            var end = start + 1
            while end < order.count && end - start < 16 && messages[order[end]].count * 2 >= longest { end += 1 }
            let group = Array(order[start..<end])
            start = end
            if group.count < minimumLanes || !vectorized {
                for k in group { out[k] = single(messages[k]) }
                continue
            }
            let d = lanes(group.map { messages[$0] })
            for (slot, k) in group.enumerated() { out[k] = d[slot] }
        }
        return out
    }

    /// One message with OpenSSL.
    static func single(_ m: UnsafeRawBufferPointer) -> [UInt8] {
        var h = SHA256Hasher(algorithm: .md5)
        h.update(m)
        return h.finalize()
    }

    /// Whether this CPU runs the 16-lane kernel (x86-64 with AVX-512F); without it every message is hashed
    /// alone with OpenSSL.
    public static let vectorized = sous_md5x16_available() == 1
    /// Whether the 8-lane (256-bit, AVX-512VL) kernel runs too.
    static let halfWidth = sous_md5x8_available() == 1

    /// Up to 16 messages in lanes: their whole blocks through `update`, then each tail and padding.
    static func lanes(_ ms: [UnsafeRawBufferPointer]) -> [[UInt8]] {
        var states = [State](repeating: State(), count: ms.count)
        update(&states, ms.map { UnsafeRawBufferPointer(rebasing: $0[0..<($0.count / 64 * 64)]) })
        return ms.indices.map { k in
            finalize(states[k], tail: UnsafeRawBufferPointer(rebasing: ms[k][(ms[k].count / 64 * 64)...]), totalLength: ms[k].count)
        }
    }

    /// The running state of one MD5 computation (RFC 1321's A, B, C, D) fed whole 64-byte blocks at a time.
    public struct State: Sendable, Equatable {
        public var a: UInt32 = 0x6745_2301, b: UInt32 = 0xefcd_ab89, c: UInt32 = 0x98ba_dcfe, d: UInt32 = 0x1032_5476
        public init() {}
    }

    /// Feeds each state its data (a whole number of 64-byte blocks each; lengths may differ), sixteen lanes at
    /// a time where the CPU allows and at least two lanes are left, one by one otherwise.
    public static func update(_ states: inout [State], _ data: [UnsafeRawBufferPointer]) {
        update(&states, segments: data.map { [$0] })
    }

    /// Like `update(_:_:)` with each state's data in several pieces (each a whole number of 64-byte blocks),
    /// taken in order: a lane goes straight on from one piece to the next, so a message that arrived in chunks
    /// keeps its lane for all of them.
    public static func update(_ states: inout [State], segments: [[UnsafeRawBufferPointer]]) {
        precondition(states.count == segments.count)
        let pieces = segments.map { lane in
            lane.filter { seg in
                precondition(seg.count % 64 == 0, "MultiMD5.update takes whole blocks")
                return seg.count > 0
            }
        }
        let totals = pieces.map { $0.reduce(0) { $0 + $1.count / 64 } }
        let order = pieces.indices.sorted { totals[$0] > totals[$1] }
        var start = 0
        while start < order.count {
            let group = Array(order[start..<min(start + 16, order.count)])
            start += group.count
            var lanes = [UInt32](repeating: 0, count: 64)
            for (j, k) in group.enumerated() {
                (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j]) = (states[k].a, states[k].b, states[k].c, states[k].d)
            }
            // Where each lane is: its piece, and the blocks of that piece already taken.
            var piece = [Int](repeating: 0, count: group.count)
            var taken = [Int](repeating: 0, count: group.count)
            func left(_ j: Int) -> Int { pieces[group[j]][piece[j]].count / 64 - taken[j] }
            func at(_ j: Int) -> UnsafePointer<UInt8> {
                pieces[group[j]][piece[j]].baseAddress!.assumingMemoryBound(to: UInt8.self) + taken[j] * 64
            }
            var active = Array(group.indices).filter { !pieces[group[$0]].isEmpty }
            var finished = [(UInt32, UInt32, UInt32, UInt32)?](repeating: nil, count: group.count)
            while vectorized && active.count >= 2 {
                let n = active.map(left).min()!
                if active.count <= 8 && halfWidth {
                    // Eight lanes or fewer: the 256-bit kernel does half the work per block.
                    var half = [UInt32](repeating: 0, count: 32)
                    var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 8)
                    for slot in 0..<8 {
                        let j = active[min(slot, active.count - 1)]
                        (half[slot], half[8 + slot], half[16 + slot], half[24 + slot]) = (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j])
                        ptrs[slot] = at(j)
                    }
                    sous_md5x8(&half, ptrs, n)
                    for (slot, j) in active.enumerated() {
                        (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j]) = (half[slot], half[8 + slot], half[16 + slot], half[24 + slot])
                    }
                } else {
                    var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 16)
                    for j in 0..<16 { ptrs[j] = at(active.contains(j) ? j : active[0]) }
                    sous_md5x16(&lanes, ptrs, n)
                }
                for j in active {
                    taken[j] += n
                    if left(j) == 0 {
                        piece[j] += 1
                        taken[j] = 0
                    }
                }
                // A lane that leaves keeps its state here: the kernels go on computing (unused) values in it.
                for j in active where piece[j] == pieces[group[j]].count {
                    finished[j] = (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j])
                }
                active.removeAll { piece[$0] == pieces[group[$0]].count }
            }
            for (j, k) in group.enumerated() {
                var s = finished[j] ?? (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j])
                while piece[j] < pieces[k].count {
                    let base = pieces[k][piece[j]].baseAddress!
                    for b in taken[j]..<(pieces[k][piece[j]].count / 64) { md5Compress1(&s, base + b * 64) }
                    piece[j] += 1
                    taken[j] = 0
                }
                states[k] = State(s)
            }
        }
    }

    /// The digest of a message whose whole blocks `state` has taken, given the rest of it (`tail`, under 64
    /// bytes) and its total length in bytes.
    public static func finalize(_ state: State, tail: UnsafeRawBufferPointer, totalLength: Int) -> [UInt8] {
        precondition(tail.count < 64)
        var s = (state.a, state.b, state.c, state.d)
        // The tail, 0x80, zeros, and the length in bits: one block, or two when the length does not fit.
        var last = [UInt8](repeating: 0, count: 128)
        if let base = tail.baseAddress, tail.count > 0 {
            last.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: base, byteCount: tail.count) }
        }
        last[tail.count] = 0x80
        let blocks = tail.count + 1 + 8 <= 64 ? 1 : 2
        let bits = UInt64(totalLength) &* 8
        for i in 0..<8 { last[blocks * 64 - 8 + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        last.withUnsafeBytes { t in
            for b in 0..<blocks { md5Compress1(&s, t.baseAddress! + b * 64) }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for v in [s.0, s.1, s.2, s.3] {
            for i in 0..<4 { digest.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        return digest
    }
}

extension MultiMD5.State {
    init(_ s: (UInt32, UInt32, UInt32, UInt32)) {
        self.init()
        (a, b, c, d) = s
    }
}
