import Foundation
import SousHTTP

/// How network, HTTP and file-system failures become `HubError`s with the sentence a user should read.
extension HubClient {
    static func statusError(
        _ status: Int, _ headers: HTTPHeaders, _ body: Data, repoID: String, revision: String, file: String?,
        token: String?, repoURL: String, isAPI: Bool
    ) -> HubError {
        let code = headers["X-Error-Code"] ?? ""
        var message = headers["X-Error-Message"]
            ?? String(decoding: body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let token, !token.isEmpty { message = message.replacingOccurrences(of: token, with: "<redacted>") }
        let detail = "HTTP \(status)" + (message.isEmpty ? "" : ": \(message)")
        let sent = token != nil
        func make(_ kind: HubError.Kind, _ subject: String = file ?? "", retry: Bool? = nil) -> HubError {
            HubError(kind, repoID: repoID, subject: subject, detail: detail, repoURL: repoURL, tokenSent: sent, isRetryable: retry)
        }
        switch code {
        case "GatedRepo": return make(.gated)
        case "RepoNotFound": return make(.repoNotFound)
        case "RevisionNotFound": return make(.revisionNotFound, revision)
        case "EntryNotFound": return make(.entryNotFound)
        default: break
        }
        switch status {
        case 401:
            return message.contains("Invalid credentials") ? make(.invalidToken) : make(.repoNotFound)
        case 403:
            let lower = message.lowercased()
            return lower.contains("gated") || lower.contains("restricted") || lower.contains("authorized list")
                ? make(.gated) : make(.repoNotFound)
        case 404:
            return isAPI ? make(.repoNotFound) : make(.entryNotFound)
        case 429, 500...599:
            return make(.server, retry: true)
        default:
            return make(.server, retry: false)
        }
    }

    static func networkError(_ error: any Error, repoID: String, file: String) -> any Error {
        if let e = error as? HubError { return e }
        if let e = error as? HTTPError {
            if e.kind == .cancelled { return CancellationError() }
            if e.kind == .fileWrite { return HubError(.io, repoID: repoID, subject: file, detail: e.message) }
            return HubError(
                .network, repoID: repoID, subject: file, detail: "\(e.message) at \(e.url)",
                isRetryable: e.isTransient || e.kind == .couldNotResolve)
        }
        return error
    }

    static func posixError(_ code: Int32, repoID: String, subject: String) -> HubError {
        let text = String(cString: strerror(code))
        if code == ENOSPC || code == EDQUOT || code == EFBIG {
            return HubError(.diskFull, repoID: repoID, subject: subject, detail: text)
        }
        return HubError(.io, repoID: repoID, subject: subject, detail: text)
    }

    static func ioError(_ error: any Error, repoID: String, subject: String) -> HubError {
        if let e = error as? HubError { return e }
        if let p = error as? POSIXError { return posixError(p.code.rawValue, repoID: repoID, subject: subject) }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return posixError(Int32(underlying.code), repoID: repoID, subject: subject)
        }
        return HubError(.io, repoID: repoID, subject: subject, detail: ns.localizedDescription)
    }
}

extension HTTPError {
    /// `scheme://host:port/path` of a URL (no query string: pre-signed URLs carry credentials there).
    static func redactedURL(_ url: URL) -> String {
        var s = "\(url.scheme ?? "http")://\(url.host ?? "")"
        if let port = url.port { s += ":\(port)" }
        return s + url.path
    }
}
