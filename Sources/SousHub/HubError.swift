/// A Hub download failed; the description says what happened, where, and the fix. Never holds the token.
public struct HubError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// 401/404 on the repository: it does not exist, or it is private and no (valid) token was sent.
        case repoNotFound
        /// The repository is gated and the token (or its absence) does not grant access.
        case gated
        case revisionNotFound
        /// A file of the snapshot is missing on the Hub (404 EntryNotFound).
        case entryNotFound
        /// The token was rejected (401 "Invalid credentials").
        case invalidToken
        case diskFull
        /// The connection failed or broke during a download; a rerun resumes from `blobs/<etag>.incomplete`.
        case network
        /// The first request to the Hub failed before any answer (DNS failure, connection refused, no route,
        /// timeout); `subject` is the endpoint. A download first falls back on a cached snapshot.
        case unreachable
        /// The downloaded bytes did not match the file's sha256 (or size) after every retry.
        case integrity
        /// The Hub listed a file name that is absolute, contains `..`, or escapes the snapshot.
        case unsafePath
        case invalidRepoID
        /// Offline (HF_HUB_OFFLINE or no network) and the cache lacks the snapshot or some of its files.
        case notCached
        /// A local folder given as the repository id cannot be taken in (missing, not a folder, a link leading
        /// out of it, an unreadable or special file); `detail` says which and the fix.
        case localFolder
        /// The endpoint does not answer like the Hub (no X-Repo-Commit header / unreadable JSON).
        case notAHubEndpoint
        /// Another HTTP status (5xx, 429, …).
        case server
        /// A local file operation failed (permissions, …).
        case io
    }

    public var kind: Kind
    public var repoID: String
    /// A file path in the repo, a revision, or a local path, depending on `kind`.
    public var subject: String
    /// Extra detail (HTTP status and server message, errno text); never headers or tokens.
    public var detail: String
    /// The Hub web address of the repo (for the gated licence page).
    public var repoURL: String
    /// Whether a token was sent (changes the advice).
    public var tokenSent: Bool
    /// True when retrying may help (network, unreachable, 5xx, 429, integrity).
    public var isRetryable: Bool
    /// The Hub cache the request used (named in the offline advice); empty when not known.
    public var cacheDir: String

    public init(
        _ kind: Kind, repoID: String, subject: String = "", detail: String = "", repoURL: String = "",
        tokenSent: Bool = false, isRetryable: Bool? = nil, cacheDir: String = ""
    ) {
        self.kind = kind
        self.repoID = repoID
        self.subject = subject
        self.detail = detail
        self.repoURL = repoURL
        self.tokenSent = tokenSent
        self.isRetryable = isRetryable ?? [.network, .unreachable, .integrity].contains(kind)
        self.cacheDir = cacheDir
    }

    private var suffix: String { detail.isEmpty ? "" : " (\(detail))" }

    /// The ways to get a model without the Hub, for the offline and unreachable errors.
    private static let withoutTheHub =
        "or pass a local folder as the model id (-p model_id=/path/to/snapshot): it is taken into the cache without the Hub"

    public var description: String {
        let tokenHelp =
            "set HF_TOKEN (or HF_TOKEN_PATH to a file holding it, or run `hf auth login`) or pass a token to sous"
        switch kind {
        case .repoNotFound:
            return tokenSent
                ? "Hub repository \(repoID) was not found, or the token sent has no access to it\(suffix); check the repository id and that the token's account can read it."
                : "Hub repository \(repoID) was not found, or it is private\(suffix); check the repository id, and for a private repository \(tokenHelp)."
        case .gated:
            return tokenSent
                ? "Hub repository \(repoID) is gated and this account has not been granted access\(suffix); accept the licence at \(repoURL) while signed in, wait for approval if needed, then rerun."
                : "Hub repository \(repoID) is gated\(suffix); accept the licence at \(repoURL) while signed in, then \(tokenHelp)."
        case .revisionNotFound:
            return "Revision '\(subject)' does not exist in Hub repository \(repoID)\(suffix); check the branch, tag or commit sha."
        case .entryNotFound:
            return "File '\(subject)' does not exist in Hub repository \(repoID)\(suffix); check the file name or the allow/ignore patterns."
        case .invalidToken:
            return "The Hub rejected the token for \(repoID)\(suffix); create a new token at https://huggingface.co/settings/tokens and \(tokenHelp)."
        case .diskFull:
            return "No space left on the device while writing \(subject)\(suffix); free space (or point HF_HUB_CACHE at a larger disk) and rerun: the download resumes where it stopped."
        case .network:
            return "The network failed while downloading \(subject.isEmpty ? repoID : "\(subject) of \(repoID)")\(suffix); check the connection and rerun the same command: it resumes from the partial file."
        case .integrity:
            return "The bytes downloaded for '\(subject)' of \(repoID) do not match the Hub's checksum\(suffix); nothing was cached; rerun later, and report the repository if it persists."
        case .unreachable:
            let cache = cacheDir.isEmpty ? "HF_HUB_CACHE" : cacheDir
            return "Cannot reach the Hugging Face Hub at \(subject) for \(repoID)\(suffix); check the network and proxy settings (https_proxy, no_proxy). "
                + "To use a mirror set HF_ENDPOINT=https://your-mirror; to use a model already in the cache set HF_HUB_OFFLINE=1 (cache: \(cache)); "
                + Self.withoutTheHub + "."
        case .unsafePath where !detail.isEmpty:
            return "Cannot write '\(subject)' of \(repoID): \(detail), through a symbolic link; nothing is written through it; remove the link or choose another local_dir."
        case .unsafePath:
            return "\(repoID) holds an unsafe file name '\(subject)' (absolute, containing '..' or '\\', or escaping the snapshot); it was refused; exclude the file with ignore patterns, or report the repository (rename the file, for a local folder)."
        case .invalidRepoID:
            return "'\(repoID)' is not a valid Hub repository id; use 'name' or 'org/name' (letters, digits, '-', '_', '.')."
        case .notCached:
            let cache = cacheDir.isEmpty ? "the Hub cache" : "the Hub cache \(cacheDir)"
            return "\(repoID) at revision '\(subject)' is not (completely) in \(cache)\(suffix), and the Hub was not contacted. "
                + "To download it, unset HF_HUB_OFFLINE and run once with network access (for a mirror set HF_ENDPOINT=https://your-mirror); "
                + "to use another cache that holds it set HF_HUB_CACHE; " + Self.withoutTheHub + "."
        case .localFolder:
            return "Cannot take the local folder \(repoID) as the model: \(detail)."
        case .notAHubEndpoint:
            return "The Hub endpoint did not answer like the Hugging Face Hub for \(repoID)\(suffix); check HF_ENDPOINT and any proxy (https_proxy)."
        case .server:
            return "The Hub answered with an error for \(subject.isEmpty ? repoID : "\(subject) of \(repoID)")\(suffix); retry later."
        case .io:
            return "A cache file operation failed for \(subject)\(suffix); check permissions and free space in the Hub cache (HF_HUB_CACHE)."
        }
    }
}
