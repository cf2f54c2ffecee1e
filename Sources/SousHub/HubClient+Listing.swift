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

    func repoInfo(repoID: String, type: HubRepoType, revision: String, token: String?, blobs: Bool) async throws -> RepoInfo {
        var s = "\(endpoint.absoluteString)/api/\(type.apiSegment)/\(repoID)/revision/\(Self.quote(revision, safe: ""))"
        if blobs { s += "?blobs=true" }
        guard let url = URL(string: s) else { throw HubError(.invalidRepoID, repoID: repoID) }
        var request = HTTPRequest(url: url)
        request.timeouts.lowSpeedTime = .seconds(30)
        if let token { request.headers.set("Authorization", "Bearer \(token)") }
        let response: HTTPResponse
        do {
            response = try await send(request, repoID: repoID, subject: "")
        } catch let error as HubError where error.kind == .network {
            // The first request of every download and check: failing here means the Hub is out of reach.
            throw HubError(.unreachable, repoID: repoID, subject: endpoint.absoluteString, detail: error.detail)
        }
        guard (200..<300).contains(response.status) else {
            throw Self.statusError(
                response.status, response.headers, response.body, repoID: repoID, revision: revision, file: nil,
                token: token, repoURL: repoURL(repoID), isAPI: true)
        }
        guard let obj = try? JSONSerialization.jsonObject(with: response.body) as? [String: Any],
            let sha = obj["sha"] as? String, HubCache.isCommitHash(sha)
        else {
            throw HubError(.notAHubEndpoint, repoID: repoID, detail: "the model info has no commit sha")
        }
        var files: [RepoFile] = []
        for sibling in obj["siblings"] as? [[String: Any]] ?? [] {
            guard let name = sibling["rfilename"] as? String else { continue }
            var entry: HubCache.TreeEntry?
            if let size = (sibling["size"] as? NSNumber)?.uint64Value, let blobID = sibling["blobId"] as? String {
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
