import Foundation
import SousCrypto
import Testing

/// MultiMD5 must be plain MD5 of each message, whatever the batch: compared with OpenSSL's MD5 one by one.
@Suite struct MultiMD5Tests {
    /// Deterministic pseudo-random bytes.
    static func bytes(_ n: Int, seed: UInt64) -> [UInt8] {
        var x = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            x ^= x << 13
            x ^= x >> 7
            x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    static func check(_ messages: [[UInt8]], _ what: String) {
        let got = withBuffers(messages) { MultiMD5.digests($0) }
        #expect(got.count == messages.count)
        for (i, m) in messages.enumerated() where got[i] != Digest.md5(m) {
            Issue.record("\(what): message \(i) (\(m.count) bytes): \(got[i].hexString) != \(Digest.md5(m).hexString)")
        }
    }

    static func withBuffers<R>(_ messages: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) -> R) -> R {
        let copies = messages.map { m -> UnsafeMutableRawBufferPointer in
            let p = UnsafeMutableRawBufferPointer.allocate(byteCount: m.count, alignment: 1)
            p.copyBytes(from: m)
            return p
        }
        defer { copies.forEach { $0.deallocate() } }
        return body(copies.map { UnsafeRawBufferPointer($0) })
    }

    @Test("RFC 1321 test suite, as one batch of seven and inside batches of sixteen")
    func rfc1321() {
        let suite: [(String, String)] = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"), ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"), ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            ("abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"),
            ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"),
            (String(repeating: "1234567890", count: 8), "57edf4a22be3c955ac49da2e2107b67a"),
        ]
        let messages = suite.map { Array($0.0.utf8) }
        let got = Self.withBuffers(messages) { MultiMD5.digests($0) }
        #expect(got.map(\.hexString) == suite.map(\.1))
        // The same seven messages padded to whole blocks so they share lanes with longer ones.
        let long = (0..<9).map { Self.bytes(64 * 20 + $0, seed: UInt64($0)) }
        let mixed = Self.withBuffers(messages + long) { MultiMD5.digests($0) }
        #expect(mixed.prefix(7).map(\.hexString) == suite.map(\.1))
    }

    @Test("Every length around the block (64) and padding (56) boundaries, equal lengths in full batches")
    func boundaries() {
        if !MultiMD5.vectorized {
            print("MultiMD5: this CPU has no AVX-512F, so these batches run through OpenSSL one by one")
        }
        for n in [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 4096, 65_537] {
            Self.check((0..<16).map { Self.bytes(n, seed: UInt64(n * 31 + $0)) }, "16 x \(n) bytes")
        }
    }

    @Test("Mixed lengths: lanes leave the batch at different blocks; batches of 1 to 40 messages")
    func mixed() {
        // Lengths within a factor of two share a batch, so lanes retire one by one down to the last.
        Self.check((0..<16).map { Self.bytes(4096 + $0 * 200 + $0 % 3, seed: UInt64($0)) }, "staggered")
        // Groups smaller than the minimum go to OpenSSL; more than 16 make several batches.
        for count in [1, 2, 3, 4, 5, 15, 16, 17, 33, 40] {
            Self.check((0..<count).map { Self.bytes(($0 * 7919) % 20_000, seed: UInt64(count * 100 + $0)) }, "\(count) messages")
        }
        // A long message beside short ones finishes alone after they leave.
        Self.check([Self.bytes(300_000, seed: 1)] + (0..<5).map { Self.bytes(160_000 + $0, seed: UInt64($0 + 2)) }, "one long")
    }


    @Test("Streaming: messages fed in chunks over many update calls, with other messages coming and going, then finalized")
    func streaming() {
        // Twelve messages of different lengths; round r feeds each live message its next chunk of whole
        // blocks (the chunk size varies with the message and the round), like bodies arriving side by side.
        let messages = (0..<12).map { Self.bytes(20_000 + $0 * 3_333, seed: UInt64(100 + $0)) }
        var states = [MultiMD5.State](repeating: MultiMD5.State(), count: messages.count)
        var fed = [Int](repeating: 0, count: messages.count)
        var round = 0
        Self.withBuffers(messages) { bufs in
            while true {
                var live: [Int] = []
                var chunks: [UnsafeRawBufferPointer] = []
                for k in bufs.indices {
                    let whole = bufs[k].count / 64 * 64
                    guard fed[k] < whole, (k + round) % 5 != 0 else { continue }  // some sit a round out
                    let n = min(whole - fed[k], 64 * (1 + (k * 7 + round * 3) % 40))
                    live.append(k)
                    chunks.append(UnsafeRawBufferPointer(rebasing: bufs[k][fed[k]..<(fed[k] + n)]))
                    fed[k] += n
                }
                if live.isEmpty && round > 5 { break }
                var sub = live.map { states[$0] }
                MultiMD5.update(&sub, chunks)
                for (i, k) in live.enumerated() { states[k] = sub[i] }
                round += 1
            }
            for k in bufs.indices {
                let tail = UnsafeRawBufferPointer(rebasing: bufs[k][fed[k]...])
                let digest = MultiMD5.finalize(states[k], tail: tail, totalLength: bufs[k].count)
                #expect(digest == Digest.md5(messages[k]), "message \(k)")
            }
        }
        #expect(round > 10)
    }


    @Test("Pieces: each message in several pieces of different sizes (some empty), lanes going on from piece to piece")
    func pieces() {
        // Twenty messages (more than one batch of sixteen), each cut into 1-5 pieces at block boundaries; a
        // lane's pieces end at different points than its neighbours', so lanes leave at many places.
        let messages = (0..<20).map { Self.bytes(($0 * 4_111) % 70_000 + ($0 % 3) * 64, seed: UInt64(500 + $0)) }
        Self.withBuffers(messages) { bufs in
            var states = [MultiMD5.State](repeating: MultiMD5.State(), count: bufs.count)
            var segments: [[UnsafeRawBufferPointer]] = []
            for (k, b) in bufs.enumerated() {
                let whole = b.count / 64 * 64
                var cuts = [0]
                for j in 1..<(1 + k % 5) { cuts.append(min(whole, whole * j / (1 + k % 5) / 64 * 64)) }
                cuts.append(whole)
                if k % 4 == 1 { cuts.insert(0, at: 0) }  // an empty first piece
                segments.append((0..<(cuts.count - 1)).map { UnsafeRawBufferPointer(rebasing: b[cuts[$0]..<cuts[$0 + 1]]) })
            }
            MultiMD5.update(&states, segments: segments)
            for k in bufs.indices {
                let whole = bufs[k].count / 64 * 64
                let digest = MultiMD5.finalize(states[k], tail: UnsafeRawBufferPointer(rebasing: bufs[k][whole...]), totalLength: bufs[k].count)
                #expect(digest == Digest.md5(messages[k]), "message \(k) in \(segments[k].count) pieces")
            }
        }
    }
}
