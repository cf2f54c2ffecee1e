internal import CSousCurl

extension HTTPError {
    /// The error for a transfer libcurl ended with `code`: `.cancelled` when it was cancelled, else a kind
    /// chosen from the code, with libcurl's own message (its error buffer, or `curl_easy_strerror`).
    static func curl(_ code: CURLcode, transfer t: Transfer) -> HTTPError {
        if t.isCancelRequested {
            return HTTPError(kind: .cancelled, message: "cancelled", url: HTTPError.redacted(t.url))
        }
        var text = t.resources.errorText
        if text.isEmpty { text = String(cString: curl_easy_strerror(code)) }
        let kind: HTTPError.Kind
        var transient: Bool?
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: kind = .couldNotResolve
        case CURLE_COULDNT_CONNECT: kind = .couldNotConnect
        case CURLE_OPERATION_TIMEDOUT: kind = .timedOut
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
            CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
            CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_ENGINE_NOTFOUND:
            kind = .tls
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING, CURLE_HTTP2,
            CURLE_HTTP2_STREAM, CURLE_SEND_FAIL_REWIND:
            kind = .connectionReset
        case CURLE_TOO_MANY_REDIRECTS: kind = .tooManyRedirects
        case CURLE_UNSUPPORTED_PROTOCOL: kind = .unsupportedProtocol
        case CURLE_ABORTED_BY_CALLBACK, CURLE_READ_ERROR:
            // Only the request-body read callback aborts (a real cancel was handled above).
            kind = .fileRead
            if text == "Operation was aborted by an application callback" || text.isEmpty {
                text = "the request body file could not be read (shorter than the declared length?)"
            }
        case CURLE_WRITE_ERROR: kind = .fileWrite
        case CURLE_HTTP3, CURLE_QUIC_CONNECT_ERROR: kind = .connectionReset
        default:
            kind = .other
            transient = false
        }
        return HTTPError(kind: kind, message: text, url: HTTPError.redacted(t.url), isTransient: transient)
    }
}
