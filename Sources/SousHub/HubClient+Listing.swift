import Foundation
import SousHTTP

extension HubClient {
    struct RepoFile: Sendable {
        var path: String
        var entry: HubCache.TreeEntry?
    }

    struct RepoInfo: Sendable {
        var commit: String
        var files: [RepoFile]
    }

    /// The repository's listing at `revision` (`/api/<type>s/<repo>/revision/<rev>`). A throttled (429), failed
    /// (5xx) or reset call is retried up to `maxRetries` times (`Retry-After` honoured, else exponential
    /// backoff); a call that gets no answer at all (no route, refused, DNS) fails at once as `.unreachable`, so
    /// that the caller can fall back on the cache without waiting.
    func repoInfo(
        repoID: String, type: HubRepoType, revision: String, token: String?, blobs: Bool, maxRetries: Int = 4
    ) async throws -> RepoInfo {
        var s = "\(endpoint.absoluteString)/api/\(type.apiSegment)/\(repoID)/revision/\(Self.quote(revision, safe: ""))"
        if blobs { s += "?blobs=true" }
        guard let url = URL(string: s) else { throw HubError(.invalidRepoID, repoID: repoID) }
        var request = HTTPRequest(url: url)
        request.timeouts.lowSpeedTime = .seconds(30)
        if let token { request.headers.set("Authorization", "Bearer \(token)") }
        var attempt = 0
        var response: HTTPResponse
        while true {
            do {
                response = try await http.send(request)
            } catch let error as HTTPError where error.kind == .connectionReset && attempt < maxRetries {
                attempt += 1
                try await Task.sleep(for: Self.backoff(attempt: attempt, retryAfter: nil))
                continue
            } catch {
                let mapped = Self.networkError(error, repoID: repoID, file: "")
                if let hub = mapped as? HubError, hub.kind == .network {
                    // The first request of every download and check: failing here means the Hub is out of reach.
                    throw HubError(.unreachable, repoID: repoID, subject: endpoint.absoluteString, detail: hub.detail)
                }
                throw mapped
            }
            guard response.status == 429 || (500...599).contains(response.status), attempt < maxRetries else { break }
            attempt += 1
            try await Task.sleep(for: Self.backoff(attempt: attempt, retryAfter: response.headers["Retry-After"]))
        }
        guard (200..<300).contains(response.status) else {
            var error = Self.statusError(
                response.status, response.headers, response.body, repoID: repoID, revision: revision, file: nil,
                token: token, repoURL: repoURL(repoID), isAPI: true)
            if attempt > 0 { error.detail += " (after \(attempt) retries)" }
            throw error
        }
        guard let obj = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let sha = obj["sha"] as? String, HubCache.isCommitHash(sha)
        else {
            throw HubError(.notAHubEndpoint, repoID: repoID, detail: "the model info has no commit sha")
        }
        var files: [RepoFile] = []
        for sibling in obj["siblings"] as? [[String: Any]] ?? [] {
            guard let name = sibling["rfilename"] as? String else { continue }
            // An unsafe name is kept (selecting it is refused, naming it) but never gets an entry: nothing
            // about it is cached.
            var entry: HubCache.TreeEntry?
            if HubCache.isSafeRelativePath(name), let size = (sibling["size"] as? NSNumber)?.uint64Value,
                let blobID = sibling["blobId"] as? String
            {
                let lfs = sibling["lfs"] as? [String: Any]
                entry = HubCache.TreeEntry(
                    size: size, blobID: blobID, lfsSHA256: lfs?["sha256"] as? String,
                    lfsSize: (lfs?["size"] as? NSNumber)?.uint64Value)
            }
            files.append(RepoFile(path: name, entry: entry))
        }
        return RepoInfo(commit: sha, files: files)
    }
}

extension HubClient {
    /// The wait before retry number `attempt` (1 = the first): the server's `Retry-After` seconds when given
    /// (at most 30 s), else 0.4 s doubling up to 6.4 s.
    static func backoff(attempt: Int, retryAfter: String?) -> Duration {
        if let text = retryAfter?.trimmingCharacters(in: .whitespaces), let seconds = Int(text), seconds >= 0 {
            return .seconds(min(seconds, 30))
        }
        return .milliseconds(200 << min(max(attempt, 1), 5))
    }
}
