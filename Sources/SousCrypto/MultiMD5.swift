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

    /// Up to 16 messages in lanes; a lane whose message has no more whole blocks leaves the batch and is
    /// finished on its own (its tail and padding), and so is the last lane left.
    static func lanes(_ ms: [UnsafeRawBufferPointer]) -> [[UInt8]] {
        precondition(ms.count <= 16)
        guard vectorized else { return ms.map(single) }
        let blocks = ms.map { $0.count / 64 }
        var out = [[UInt8]](repeating: [], count: ms.count)
        var state = [UInt32](repeating: 0, count: 64)
        for j in 0..<16 {
            (state[j], state[16 + j], state[32 + j], state[48 + j]) = (0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476)
        }
        var done = 0  // whole blocks hashed in every active lane
        var active = Array(ms.indices)
        func retire(_ j: Int) {
            var s = (state[j], state[16 + j], state[32 + j], state[48 + j])
            out[j] = finish(&s, ms[j], from: done)
        }
        while true {
            for j in active where blocks[j] == done { retire(j) }
            active.removeAll { blocks[$0] == done }
            guard active.count >= 2 else { break }
            let until = active.map { blocks[$0] }.min()!
            // Lanes not in the batch read an active lane's bytes; what they compute is never used.
            var ptrs = [UnsafePointer<UInt8>?](repeating: nil, count: 16)
            for j in 0..<16 {
                let src = active.contains(j) ? j : active[0]
                ptrs[j] = ms[src].baseAddress!.assumingMemoryBound(to: UInt8.self) + done * 64
            }
            sous_md5x16(&state, ptrs, until - done)
            done = until
        }
        for j in active { retire(j) }
        return out
    }

    /// Hashes the rest of `m` (whole blocks from block `from`, then the tail and padding) onto `s`.
    static func finish(_ s: inout (UInt32, UInt32, UInt32, UInt32), _ m: UnsafeRawBufferPointer, from: Int) -> [UInt8] {
        let whole = m.count / 64
        if let base = m.baseAddress {
            for b in from..<whole { md5Compress1(&s, base + b * 64) }
        }
        var tail = [UInt8](repeating: 0, count: 128)
        let rest = m.count - whole * 64
        if rest > 0 { tail.withUnsafeMutableBytes { $0.baseAddress!.copyMemory(from: m.baseAddress! + whole * 64, byteCount: rest) } }
        tail[rest] = 0x80
        let total = rest + 1 + 8 <= 64 ? 64 : 128
        let bits = UInt64(m.count) &* 8
        for i in 0..<8 { tail[total - 8 + i] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(i))) }
        tail.withUnsafeBytes { t in
            for off in stride(from: 0, to: total, by: 64) { md5Compress1(&s, t.baseAddress! + off) }
        }
        var digest: [UInt8] = []
        digest.reserveCapacity(16)
        for v in [s.0, s.1, s.2, s.3] {
            for i in 0..<4 { digest.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
        }
        return digest
    }
}
