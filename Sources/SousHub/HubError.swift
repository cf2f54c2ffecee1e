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
        /// The connection failed or broke; a rerun resumes from `blobs/<etag>.incomplete`.
        case network
        /// The downloaded bytes did not match the file's sha256 (or size) after every retry.
        case integrity
        /// The Hub listed a file name that is absolute, contains `..`, or escapes the snapshot.
        case unsafePath
        case invalidRepoID
        /// Offline (HF_HUB_OFFLINE or no network) and the cache lacks the snapshot or some of its files.
        case notCached
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
    /// True when retrying may help (network, 5xx, 429, integrity).
    public var isRetryable: Bool

    public init(
        _ kind: Kind, repoID: String, subject: String = "", detail: String = "", repoURL: String = "",
        tokenSent: Bool = false, isRetryable: Bool? = nil
    ) {
        self.kind = kind
        self.repoID = repoID
        self.subject = subject
        self.detail = detail
        self.repoURL = repoURL
        self.tokenSent = tokenSent
        self.isRetryable = isRetryable ?? [.network, .integrity].contains(kind)
    }

    private var suffix: String { detail.isEmpty ? "" : " (\(detail))" }

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
        case .unsafePath:
            return "The Hub listed an unsafe file name '\(subject)' in \(repoID) (absolute, containing '..' or escaping the snapshot); it was refused; report the repository or exclude the file with ignore patterns."
        case .invalidRepoID:
            return "'\(repoID)' is not a valid Hub repository id; use 'name' or 'org/name' (letters, digits, '-', '_', '.')."
        case .notCached:
            return "\(repoID) at revision '\(subject)' is not (completely) in the Hub cache\(suffix), and the Hub was not contacted (HF_HUB_OFFLINE or no network); unset HF_HUB_OFFLINE and run once with network access."
        case .notAHubEndpoint:
            return "The Hub endpoint did not answer like the Hugging Face Hub for \(repoID)\(suffix); check HF_ENDPOINT and any proxy (https_proxy)."
        case .server:
            return "The Hub answered with an error for \(subject.isEmpty ? repoID : "\(subject) of \(repoID)")\(suffix); retry later."
        case .io:
            return "A cache file operation failed for \(subject)\(suffix); check permissions and free space in the Hub cache (HF_HUB_CACHE)."
        }
    }
}
