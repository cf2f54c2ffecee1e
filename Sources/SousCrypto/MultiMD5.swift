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
        precondition(states.count == data.count)
        let order = data.indices.sorted { data[$0].count > data[$1].count }
        var start = 0
        while start < order.count {
            let group = Array(order[start..<min(start + 16, order.count)])
            start += group.count
            var lanes = [UInt32](repeating: 0, count: 64)
            for (j, k) in group.enumerated() {
                precondition(data[k].count % 64 == 0, "MultiMD5.update takes whole blocks")
                (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j]) = (states[k].a, states[k].b, states[k].c, states[k].d)
            }
            let blocks = group.map { data[$0].count / 64 }
            var done = 0
            var active = Array(group.indices).filter { blocks[$0] > 0 }
            var finished = [(UInt32, UInt32, UInt32, UInt32)?](repeating: nil, count: group.count)
            while vectorized && active.count >= 2 {
                let until = active.map { blocks[$0] }.min()!
                if active.count <= 8 && halfWidth {
                    // Eight lanes or fewer: the 256-bit kernel does half the work per block.
                    var half = [UInt32](repeating: 0, count: 32)
                    var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 8)
                    for slot in 0..<8 {
                        let j = active[min(slot, active.count - 1)]
                        (half[slot], half[8 + slot], half[16 + slot], half[24 + slot]) = (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j])
                        ptrs[slot] = data[group[j]].baseAddress!.assumingMemoryBound(to: UInt8.self) + done * 64
                    }
                    sous_md5x8(&half, ptrs, until - done)
                    for (slot, j) in active.enumerated() {
                        (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j]) = (half[slot], half[8 + slot], half[16 + slot], half[24 + slot])
                    }
                } else {
                    var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 16)
                    for j in 0..<16 {
                        let src = active.contains(j) ? j : active[0]
                        ptrs[j] = data[group[src]].baseAddress!.assumingMemoryBound(to: UInt8.self) + done * 64
                    }
                    sous_md5x16(&lanes, ptrs, until - done)
                }
                done = until
                // A lane that leaves keeps its state here: the kernels go on computing (unused) values in it.
                for j in active where blocks[j] == done { finished[j] = (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j]) }
                active.removeAll { blocks[$0] == done }
            }
            for (j, k) in group.enumerated() {
                var s = finished[j] ?? (lanes[j], lanes[16 + j], lanes[32 + j], lanes[48 + j])
                if blocks[j] > done, let base = data[k].baseAddress {
                    for b in done..<blocks[j] { md5Compress1(&s, base + b * 64) }
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
