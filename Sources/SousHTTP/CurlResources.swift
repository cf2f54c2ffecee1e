internal import CSousCurl
import Foundation

/// libcurl's receive buffer: the largest chunk one write callback delivers (fewer, larger chunks).
let receiveBufferSize = 128 << 10

/// The libcurl-owned resources of one transfer. @unchecked Sendable: built by the requesting thread, then
/// touched only by the curl thread (callbacks, pause, cleanup) — never by two threads at once.
final class CurlResources: @unchecked Sendable {
    var easy: UnsafeMutableRawPointer?
    var headerList: UnsafeMutablePointer<curl_slist>?
    let errorBuffer: UnsafeMutablePointer<CChar>
    // Request body source.
    var bodyData = Data()
    var fd: Int32 = -1
    var fileOffset: UInt64 = 0
    var bodyLength: UInt64 = 0
    var position: UInt64 = 0

    init() {
        let size = Int(sous_curl_error_size())
        errorBuffer = .allocate(capacity: size)
        errorBuffer.initialize(repeating: 0, count: size)
    }

    var errorText: String { String(cString: errorBuffer) }

    /// Frees the easy handle, header list and file descriptor (curl thread, after removal from the multi).
    func release() {
        if let easy { curl_easy_cleanup(easy) }
        easy = nil
        if let headerList { curl_slist_free_all(headerList) }
        headerList = nil
        if fd >= 0 { close(fd) }
        fd = -1
        bodyData = Data()
    }

    deinit {
        release()
        errorBuffer.deallocate()
    }
}

extension CurlResources {
    /// Sets the options, headers, body source and callbacks of `request` on the easy handle (which `easy`
    /// must hold). The callbacks find `transfer` through an unretained pointer: the multi keeps it alive
    /// while the handle is in use.
    /// - Throws: `HTTPError` (`.fileRead`) when the body file cannot be opened.
    func configure(_ request: HTTPRequest, for transfer: Transfer, configuration: HTTPClient.Configuration) throws {
        guard let h = easy else { return }
        let r = self
        let me = Unmanaged.passUnretained(transfer).toOpaque()
        _ = sous_curl_easy_setopt_string(h, CURLOPT_URL, request.url.absoluteString)
        // http and https only, for the request and any redirect (never file://, ftp://, …).
        _ = sous_curl_easy_setopt_string(h, CURLOPT_PROTOCOLS_STR, "http,https")
        _ = sous_curl_easy_setopt_string(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_ERRORBUFFER, r.errorBuffer)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_NOSIGNAL, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_BUFFERSIZE, receiveBufferSize)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYPEER, configuration.verifyTLS ? 1 : 0)
        _ = sous_curl_easy_setopt_long(h, CURLOPT_SSL_VERIFYHOST, configuration.verifyTLS ? 2 : 0)
        _ = sous_curl_easy_setopt_string(h, CURLOPT_USERAGENT, configuration.userAgent)
        let t = request.timeouts
        _ = sous_curl_easy_setopt_long(h, CURLOPT_CONNECTTIMEOUT_MS, max(1, milliseconds(t.connect)))
        _ = sous_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_LIMIT, max(0, t.lowSpeedBytes))
        _ = sous_curl_easy_setopt_long(h, CURLOPT_LOW_SPEED_TIME, max(1, (milliseconds(t.lowSpeedTime) + 999) / 1000))
        if let total = t.total { _ = sous_curl_easy_setopt_long(h, CURLOPT_TIMEOUT_MS, max(1, milliseconds(total))) }

        // Method and body.
        let method = request.method.uppercased()
        let hasBody = request.body.length > 0 || ["POST", "PUT", "PATCH"].contains(method)
        var lines: [String] = []
        if method == "HEAD" {
            _ = sous_curl_easy_setopt_long(h, CURLOPT_NOBODY, 1)
        } else if hasBody {
            _ = sous_curl_easy_setopt_long(h, CURLOPT_UPLOAD, 1)
            _ = sous_curl_easy_setopt_off(h, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length))
            // Large bodies go in 1 MiB reads and sends instead of libcurl's default 64 KiB.
            if request.body.length >= 1 << 20 { _ = sous_curl_easy_setopt_long(h, CURLOPT_UPLOAD_BUFFERSIZE, 1 << 20) }
            if method != "PUT" { _ = sous_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method) }
            lines.append("Expect:")
            switch request.body {
            case .empty: break
            case .bytes(let d): r.bodyData = d
            case .file(let path, let offset, _):
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else {
                    throw HTTPError(
                        kind: .fileRead, message: "cannot open \(path): \(String(cString: strerror(errno)))",
                        url: HTTPError.redacted(request.url))
                }
                r.fd = fd
                r.fileOffset = offset
            }
            r.bodyLength = request.body.length
            _ = sous_curl_easy_setopt_read(h) { buffer, size, count, user in
                guard let user, let buffer else { return sous_curl_readfunc_abort() }
                let r = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().resources
                let want = min(UInt64(size * count), r.bodyLength - r.position)
                if want == 0 { return 0 }
                if r.fd >= 0 {
                    let n = pread(r.fd, buffer, Int(want), off_t(r.fileOffset + r.position))
                    if n <= 0 { return sous_curl_readfunc_abort() }  // error or file shorter than declared
                    r.position += UInt64(n)
                    return n
                }
                let start = r.bodyData.startIndex + Int(r.position)
                r.bodyData.withUnsafeBytes { raw in
                    let src = raw.baseAddress!.advanced(by: start - r.bodyData.startIndex)
                    UnsafeMutableRawPointer(buffer).copyMemory(from: src, byteCount: Int(want))
                }
                r.position += want
                return Int(want)
            }
            _ = sous_curl_easy_setopt_ptr(h, CURLOPT_READDATA, me)
            _ = sous_curl_easy_setopt_seek(h) { user, offset, origin in
                guard let user, origin == SEEK_SET else { return 2 }  // CURL_SEEKFUNC_CANTSEEK
                let r = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue().resources
                guard offset >= 0, UInt64(offset) <= r.bodyLength else { return 1 }  // CURL_SEEKFUNC_FAIL
                r.position = UInt64(offset)
                return 0
            }
            _ = sous_curl_easy_setopt_ptr(h, CURLOPT_SEEKDATA, me)
        } else if method != "GET" {
            _ = sous_curl_easy_setopt_string(h, CURLOPT_CUSTOMREQUEST, method)
        }

        // Headers (an empty value is sent as "Name;" which curl turns into an empty header).
        for (name, value) in request.headers {
            if name.caseInsensitiveCompare("Expect") == .orderedSame { continue }
            lines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        for line in lines { r.headerList = curl_slist_append(r.headerList, line) }
        if let list = r.headerList { _ = sous_curl_easy_setopt_slist(h, CURLOPT_HTTPHEADER, list) }

        _ = sous_curl_easy_setopt_header(h) { data, size, count, user in
            guard let user, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            let n = size * count
            data.withMemoryRebound(to: UInt8.self, capacity: n) { t.headerLine(UnsafeBufferPointer(start: $0, count: n)) }
            return n
        }
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_HEADERDATA, me)
        _ = sous_curl_easy_setopt_write(h) { data, size, count, user in
            guard let user, let data else { return 0 }
            let t = Unmanaged<Transfer>.fromOpaque(user).takeUnretainedValue()
            let n = size * count
            switch t.body(UnsafeRawBufferPointer(start: data, count: n)) {
            case .accepted: return n
            case .pause: return sous_curl_writefunc_pause()
            case .abort: return 0
            }
        }
        _ = sous_curl_easy_setopt_ptr(h, CURLOPT_WRITEDATA, me)
    }

    private func milliseconds(_ d: Duration) -> Int {
        let c = d.components
        return Int(c.seconds) * 1000 + Int(c.attoseconds / 1_000_000_000_000_000)
    }
}
