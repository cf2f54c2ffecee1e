import Foundation
import SousHTTP

extension HubClient {
    /// What a deployment's preflight learns about a Hub model before anything is downloaded or created.
    public struct ModelAccess: Sendable, Equatable {
        /// The commit the revision resolves to.
        public var commit: String
        /// The file whose HEAD proved the token may read the repository (`config.json` when it has one).
        public var checkedFile: String
        /// Bytes of the weights: the `.safetensors` files, else the `.bin` files, else `.pt`/`.pth`; nil when the
        /// listing gives no sizes.
        public var weightBytes: UInt64?
        /// `torch_dtype` of `config.json` (the dtype the weights are stored in), when it could be read.
        public var storedDType: String?
    }

    /// Whether `token` can read the model `repoID` at `revision`, without downloading it: the repository listing
    /// (with sizes), a HEAD on one of its files (`config.json`), which a gated repository refuses to a token whose
    /// account has not accepted the licence, then `config.json` itself for the stored dtype.
    /// - Throws: ``HubError`` (`.gated`, `.repoNotFound`, `.invalidToken`, `.revisionNotFound`, `.unreachable`, …),
    ///   whose description says what to do.
    public func checkAccess(repoID: String, revision: String, token: String?) async throws -> ModelAccess {
        try Self.validate(repoID: repoID)
        let info = try await repoInfo(repoID: repoID, type: .model, revision: revision, token: token, blobs: true)
        let names = info.files.map(\.path)
        let file = names.contains("config.json") ? "config.json" : names.first ?? "config.json"
        guard let url = URL(string: "\(endpoint.absoluteString)/\(repoID)/resolve/\(Self.quote(info.commit, safe: ""))/\(Self.quote(file, safe: "/"))")
        else { throw HubError(.invalidRepoID, repoID: repoID) }
        var head = HTTPRequest(method: "HEAD", url: url)
        head.timeouts.lowSpeedTime = .seconds(30)
        if let token { head.headers.set("Authorization", "Bearer \(token)") }
        let r = try await send(head, repoID: repoID, subject: file)
        // 2xx, or a redirect to the file's storage: the token may read it.
        guard (200..<400).contains(r.status) else {
            throw Self.statusError(
                r.status, r.headers, r.body, repoID: repoID, revision: info.commit, file: file, token: token, repoURL: repoURL(repoID),
                isAPI: false)
        }
        var dtype: String?
        if file == "config.json" {
            var get = HTTPRequest(url: url)
            get.timeouts.total = .seconds(30)
            if let token { get.headers.set("Authorization", "Bearer \(token)") }
            if let c = try? await send(get, repoID: repoID, subject: file), (200..<300).contains(c.status),
                let obj = try? JSONSerialization.jsonObject(with: c.body) as? [String: Any]
            {
                dtype = obj["torch_dtype"] as? String
            }
        }
        return ModelAccess(commit: info.commit, checkedFile: file, weightBytes: Self.weightBytes(info.files), storedDType: dtype)
    }

    /// The size of the weights among `files`: safetensors first (what TGI and LMI load), else PyTorch files.
    static func weightBytes(_ files: [RepoFile]) -> UInt64? {
        for exts in [[".safetensors"], [".bin"], [".pt", ".pth"]] {
            let chosen = files.filter { f in exts.contains { f.path.hasSuffix($0) } && !f.path.hasSuffix("training_args.bin") }
            guard !chosen.isEmpty else { continue }
            let sizes = chosen.compactMap { $0.entry?.lfsSize ?? $0.entry?.size }
            return sizes.count == chosen.count ? sizes.reduce(0, +) : nil
        }
        return nil
    }
}
