import Foundation
import SousCrypto
import SousEngine
import SousHTTP
import SousRecipe

/// The workspace's cache of recipe files fetched from the web: every body once under
/// `WORKSPACE/.sous/recipes/blobs/<sha256>`, and `index.json` mapping each URL to the SHA-256 of its
/// last fetch and when that was. Both are written atomically (temporary file, fsync, rename); the
/// index is read, changed and written under an `flock` so that two sous processes do not lose an entry.
struct RecipeCache: Sendable {
    /// `WORKSPACE/.sous/recipes`.
    let root: String

    init(workspaceRoot: String) { root = workspaceRoot + "/.sous/recipes" }

    /// One URL's last fetch.
    struct Entry: Codable, Sendable {
        var sha256: String
        var fetchedAt: Date

        enum CodingKeys: String, CodingKey {
            case sha256
            case fetchedAt = "fetched_at"
        }
    }

    var indexPath: String { root + "/index.json" }
    func blobPath(_ sha256: String) -> String { root + "/blobs/" + sha256 }

    /// The cached body with this SHA-256, checked against it (a damaged blob counts as absent).
    func blob(_ sha256: String) -> Data? {
        guard let data = FileManager.default.contents(atPath: blobPath(sha256)),
            Digest.sha256(data).hexString == sha256
        else { return nil }
        return data
    }

    /// The last fetch of `url`, if any.
    func entry(for url: String) -> Entry? { readIndex()[url] }

    /// Keeps `data` as the blob `sha256` and records it as `url`'s last fetch.
    /// - Throws: a `WorkspaceError` when the cache cannot be written.
    func store(_ data: Data, sha256: String, url: String, at date: Date) throws {
        if blob(sha256) == nil { try writeAtomically(data, to: blobPath(sha256)) }
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let fd = open(root + "/index.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw WorkspaceError("cannot open \(root)/index.lock: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        // Held for one read and one small write; another sous waits that long at most.
        while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        defer { flock(fd, LOCK_UN) }
        var index = readIndex()
        index[url] = Entry(sha256: sha256, fetchedAt: date)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        try writeAtomically(try encoder.encode(index), to: indexPath)
    }

    private func readIndex() -> [String: Entry] {
        guard let data = FileManager.default.contents(atPath: indexPath) else { return [:] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return (try? decoder.decode([String: Entry].self, from: data)) ?? [:]
    }
}

/// Fetches remote recipe files over HTTPS for ``RecipeLoader`` and keeps them in the workspace's
/// ``RecipeCache``.
///
/// - A pinned reference (`URL#sha256=…`) whose blob is cached is served from the cache, without
///   any network; a fetched body with another hash is refused, naming both hashes.
/// - An unpinned reference is fetched every time (a shared recipe may change); when that fails, the
///   last copy fetched is used, with a warning saying when it was fetched.
/// - Redirects are followed (at most 5, to https only; to http only from a loopback http URL), the
///   body is capped at 1 MiB, and the connection and the whole transfer have time limits.
///
/// The loader is async and so is this (``HTTPClient`` has no blocking API): no thread waits on the
/// network, which matters on a 2-core machine whose cooperative pool is two threads wide.
struct WorkspaceRecipeFetcher: RemoteRecipeFetcher {
    let cache: RecipeCache
    var client: HTTPClient = .shared
    /// Prints a warning (the offline fallback).
    var warn: @Sendable (String) -> Void = { Console.err("warning: \($0)\n") }

    static let maxBytes = 1 << 20
    static let maxRedirects = 5

    init(workspaceRoot: String) { cache = RecipeCache(workspaceRoot: workspaceRoot) }

    func fetch(_ reference: RemoteRecipeReference) async throws(RemoteFetchError) -> FetchedRecipeFile {
        let url = reference.url
        if let pin = reference.sha256, let data = cache.blob(pin) { return try Self.decode(data, sha256: pin, url: url) }
        let body: Data
        do {
            body = try await download(url)
        } catch {
            return try fallback(reference, failure: error)
        }
        let sha256 = Digest.sha256(body).hexString
        if let pin = reference.sha256, pin != sha256 {
            throw RemoteFetchError(
                "expected sha256 \(pin), got \(sha256): \(url) changed since it was pinned (read what changed, then pin the new hash or drop the pin)")
        }
        let file = try Self.decode(body, sha256: sha256, url: url)
        do { try cache.store(body, sha256: sha256, url: url, at: Date()) } catch {
            warn("cannot cache \(url): \(error)")
        }
        return file
    }

    /// What to use when `reference` cannot be fetched: the last cached copy of an unpinned URL.
    private func fallback(_ reference: RemoteRecipeReference, failure: FetchFailure) throws(RemoteFetchError) -> FetchedRecipeFile {
        let url = reference.url
        if let pin = reference.sha256 {
            throw RemoteFetchError(
                "\(failure); it is pinned (sha256 \(pin)) but not cached in \(cache.root): fetch it once while it can be reached")
        }
        if let entry = cache.entry(for: url), let data = cache.blob(entry.sha256) {
            warn(
                "cannot fetch \(url): \(failure); using the copy fetched \(Self.describe(entry.fetchedAt)), sha256 \(entry.sha256). Pin it with #sha256=\(entry.sha256) to use that copy without asking the network")
            return try Self.decode(data, sha256: entry.sha256, url: url)
        }
        throw RemoteFetchError(
            "\(failure), and no copy is cached in \(cache.root). Check the URL and your network; to run it offline later, fetch it once and pin it: \(url)#sha256=<hex> (`sous plan URL` prints the hash)")
    }

    /// Why a download failed, as a clause (`HTTP 404`, `could not connect …`).
    enum FetchFailure: Error, CustomStringConvertible {
        case status(Int)
        case network(String)
        case tooLarge
        case notFollowed(String)
        case tooManyRedirects

        var description: String {
            switch self {
            case .status(let s): "HTTP \(s)\(Self.reasons[s].map { " " + $0 } ?? "")"
            case .network(let m): "network error: \(m)"
            case .tooLarge: "the file is larger than 1 MiB, which no recipe is"
            case .notFollowed(let to): "a redirect to \(to) was not followed (recipes are fetched over https only)"
            case .tooManyRedirects: "more than \(WorkspaceRecipeFetcher.maxRedirects) redirects"
            }
        }

        static let reasons = [
            400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 410: "Gone",
            429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout",
        ]

        /// `could not connect (Failed to connect to … port …)`.
        static func network(_ error: any Error) -> FetchFailure {
            guard let e = error as? HTTPError else { return .network("\(error)") }
            let what =
                switch e.kind {
                case .couldNotResolve: "could not resolve the host name"
                case .couldNotConnect: "could not connect"
                case .timedOut: "timed out"
                case .tls: "TLS failed"
                case .connectionReset: "the connection broke"
                case .tooManyRedirects: "too many redirects"
                case .cancelled: "cancelled"
                default: "the request failed"
                }
            return .network(e.message.isEmpty ? what : "\(what) (\(e.message))")
        }
    }

    /// GETs `url`, following redirects to https URLs, and returns the body of a 200.
    private func download(_ url: String) async throws(FetchFailure) -> Data {
        guard var current = URL(string: url) else { throw .network("'\(url)' is not a valid URL") }
        for _ in 0...Self.maxRedirects {
            var request = HTTPRequest(url: current, headers: ["Accept": "application/yaml, text/yaml, text/plain;q=0.9, */*;q=0.1"])
            request.timeouts.connect = .seconds(10)
            request.timeouts.lowSpeedTime = .seconds(20)
            request.timeouts.total = .seconds(60)
            let response: HTTPStreamingResponse
            do { response = try await client.stream(request) } catch { throw FetchFailure.network(error) }
            let status = response.head.status
            if [301, 302, 303, 307, 308].contains(status), let location = response.head.headers["Location"] {
                response.body.cancel()
                guard let next = URL(string: location, relativeTo: current)?.absoluteURL else { throw .notFollowed(location) }
                let scheme = next.scheme?.lowercased()
                let loopbackHTTP = current.scheme == "http" && scheme == "http" && RemoteRecipeReference.isLoopback(next.host ?? "")
                guard scheme == "https" || loopbackHTTP else { throw .notFollowed(next.absoluteString) }
                current = next
                continue
            }
            guard status == 200 else {
                response.body.cancel()
                throw .status(status)
            }
            if let length = response.head.headers["Content-Length"].flatMap({ Int($0) }), length > Self.maxBytes {
                response.body.cancel()
                throw .tooLarge
            }
            let data: Data
            do { data = try await response.body.collect(upTo: Self.maxBytes + 1) } catch { throw FetchFailure.network(error) }
            if data.count > Self.maxBytes { throw .tooLarge }
            return data
        }
        throw .tooManyRedirects
    }

    private static func decode(_ data: Data, sha256: String, url: String) throws(RemoteFetchError) -> FetchedRecipeFile {
        guard let text = String(data: data, encoding: .utf8) else { throw RemoteFetchError("\(url) is not UTF-8 text") }
        return FetchedRecipeFile(text: text, sha256: sha256)
    }

    /// `2025-03-04T10:22:01Z, 3 hours ago`.
    static func describe(_ date: Date, now: Date = Date()) -> String {
        let seconds = Int(now.timeIntervalSince(date))
        let ago: String
        switch seconds {
        case ..<60: ago = "just now"
        case ..<3600: ago = "\(seconds / 60) min ago"
        case ..<172_800: ago = "\(seconds / 3600) h ago"
        default: ago = "\(seconds / 86400) days ago"
        }
        return "at \(ISO8601DateFormatter().string(from: date)) (\(ago))"
    }
}
