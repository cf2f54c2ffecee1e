import Foundation
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The weight matrices copied out of their file mappings into one anonymous buffer backed by
/// transparent huge pages (Linux, `MADV_HUGEPAGE`).
///
/// Decoding streams every weight once per token, so it is bound by memory bandwidth. With 4 KiB
/// file pages a single core streamed the 15M shape's 37 MB classifier at about 8–18 GB/s on the
/// benchmark machine; from 2 MiB pages it reached 23–27 GB/s (fewer TLB misses, and the kernel
/// hands out physically contiguous memory the prefetchers can follow).
///
/// `@unchecked Sendable`: written only in `init`, read-only afterwards, freed in deinit.
final class WeightArena: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let size: Int
    static let hugePage = 2 << 20

    private init?(size: Int) {
        var raw: UnsafeMutableRawPointer?
        let rounded = (size + WeightArena.hugePage - 1) / WeightArena.hugePage * WeightArena.hugePage
        guard posix_memalign(&raw, WeightArena.hugePage, rounded) == 0, let raw else { return nil }
        #if os(Linux)
            // Advisory only: without THP support the copy still works, on 4 KiB pages.
            _ = madvise(raw, rounded, 14)  // MADV_HUGEPAGE
        #endif
        base = raw
        self.size = rounded
    }

    deinit { free(base) }

    /// Copies `matrices` into a fresh arena (shared matrices, such as tied embeddings, once) and returns
    /// them re-pointed at the copy. Returns the input unchanged when the weights exceed `limit` bytes
    /// (large models stay memory-mapped so they do not pin their size in anonymous memory).
    static func pack(_ matrices: [WeightMatrix], limit: Int) -> [WeightMatrix] {
        var offsets: [UnsafeRawPointer: Int] = [:]
        var total = 0
        for m in matrices where offsets[m.data] == nil {
            offsets[m.data] = total
            total += (m.byteCount + 63) & ~63
        }
        guard total > 0, total <= limit, let arena = WeightArena(size: total) else { return matrices }
        var copied = Set<UnsafeRawPointer>()
        return matrices.map { m in
            let dst = arena.base + offsets[m.data, default: 0]
            if copied.insert(m.data).inserted { dst.copyMemory(from: m.data, byteCount: m.byteCount) }
            return WeightMatrix(data: UnsafeRawPointer(dst), dtype: m.dtype, rows: m.rows, cols: m.cols, owner: arena)
        }
    }
}
