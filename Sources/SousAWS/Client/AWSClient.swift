public import Foundation
public import SousHTTP
import SousCrypto

/// The AWS client core: endpoint resolution, SigV4 signing, sending through SousHTTP, standard retries and
/// error parsing. Service clients (`S3Client`, `SageMakerClient`, `STSClient`, `SageMakerRuntimeClient`) sit on top.
public final class AWSClient: Sendable {
    public let configuration: AWSConfiguration
    public let region: String
    public let credentialsProvider: any AWSCredentialsProvider
    public let http: HTTPClient
    public let retry: AWSRetryStrategy
    /// The clock used for signatures (injectable for tests).
    public let now: @Sendable () -> Date

    public init(
        configuration: AWSConfiguration, region: String, credentials: any AWSCredentialsProvider,
        http: HTTPClient = .shared, retry: AWSRetryStrategy? = nil, now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.configuration = configuration
        self.region = region
        self.credentialsProvider = credentials
        self.http = http
        self.retry = retry ?? AWSRetryStrategy(settings: configuration.retry)
        self.now = now
    }

    /// Resolves configuration, region and the credential chain from `environment` (as the AWS CLI does).
    /// - Throws: `AWSConfigError` when no region or no credentials can be found.
    public static func make(
        environment: [String: String], profile: String? = nil, region: String? = nil, http: HTTPClient = .shared
    ) async throws -> AWSClient {
        let config = try AWSConfiguration(environment: environment, profile: profile)
        let r: String
        if let region { r = region } else { r = try await config.resolveRegion(http: http) }
        let creds = try AWSCredentialChain.provider(configuration: config, region: r, http: http)
        return AWSClient(configuration: config, region: r, credentials: creds, http: http)
    }

    /// The same client in another region (S3 buckets elsewhere).
    public func withRegion(_ region: String) -> AWSClient {
        AWSClient(
            configuration: configuration, region: region, credentials: credentialsProvider, http: http, retry: retry,
            now: now)
    }

    /// The endpoint of `service` in this client's region.
    public func endpoint(for service: AWSService) -> URL { configuration.endpoint(for: service, region: region) }

    static func serviceDisplayName(_ s: AWSService) -> String {
        switch s {
        case .s3: "S3"
        case .sagemaker: "SageMaker"
        case .sagemakerRuntime: "SageMaker Runtime"
        case .sts: "STS"
        case .iam: "IAM"
        case .scheduler: "EventBridge Scheduler"
        case .serviceQuotas: "Service Quotas"
        }
    }

    /// True for `localhost`, `*.localhost`, `127.0.0.0/8` and `::1` (with or without a port).
    public static func isLoopback(hostHeader: String) -> Bool {
        var host = hostHeader.lowercased()
        if host.hasPrefix("[") {
            host = String(host.dropFirst().prefix { $0 != "]" })
            return host == "::1" || host == "0:0:0:0:0:0:0:1"
        }
        if let colon = host.lastIndex(of: ":") { host = String(host[..<colon]) }
        if host == "localhost" || host.hasSuffix(".localhost") { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        return octets.count == 4 && octets[0] == "127" && octets.allSatisfy { UInt8($0) != nil }
    }

    /// Builds and signs the HTTP request for one attempt.
    public func signedRequest(_ r: AWSRequest) async throws -> HTTPRequest {
        let (scheme, hostHeader, path) = try address(r)
        let url = try Self.url(scheme: scheme, host: hostHeader, path: path, query: r.query, r)
        let payloadHash: String
        // UNSIGNED-PAYLOAD where nothing on the path can alter the body: over TLS (as the AWS SDKs do) and to a
        // loopback address (the local cloud, moto). Plain HTTP to any other host signs the body's hash, as
        // botocore does.
        if r.unsignedPayload && r.service == .s3 && (scheme == "https" || Self.isLoopback(hostHeader: hostHeader)) {
            payloadHash = SigV4Request.unsignedPayload
        } else {
            switch r.body {
            case .empty: payloadHash = SigV4Request.emptyPayloadHash
            case .bytes(let d): payloadHash = Digest.sha256(d).hexString
            case .file(let p, let off, let len):
                do {
                    payloadHash = try sha256OfFile(atPath: p, offset: off, length: len).hexString
                } catch {
                    throw AWSConfigError("Could not read \(p) to upload it: \(error.localizedDescription).")
                }
            }
        }
        var headers: [(name: String, value: String)] = [("Host", hostHeader)]
        for h in r.headers where h.name.lowercased() != "host" { headers.append((h.name, h.value)) }
        let creds = try await credentialsProvider.credentials()
        let signer = SigV4Signer(
            credentials: creds, region: r.service.signingRegion(region), service: r.service.signingName)
        let signed = signer.sign(
            SigV4Request(method: r.method, path: path, query: r.query, headers: headers, payloadHash: payloadHash),
            date: now())
        var req = HTTPRequest(method: r.method, url: url, headers: HTTPHeaders(signed.request.headers.map { ($0.name, $0.value) }), body: r.body)
        req.followRedirects = false
        return req
    }

    static let expiredTokenCodes: Set<String> = ["ExpiredToken", "ExpiredTokenException", "RequestExpired"]

    /// Scheme, Host header value and full wire path of a request.
    func address(_ r: AWSRequest) throws -> (scheme: String, host: String, path: String) {
        let base = endpoint(for: r.service)
        guard let scheme = base.scheme, var host = base.host else {
            throw AWSConfigError("The endpoint \(base.absoluteString) for \(r.service.rawValue) is not a valid URL.")
        }
        if let h = r.hostOverride { host = h }
        var hostHeader = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        if let port = base.port, !(scheme == "https" && port == 443), !(scheme == "http" && port == 80) {
            hostHeader += ":\(port)"
        }
        var basePath = base.path
        if basePath.hasSuffix("/") { basePath.removeLast() }
        return (scheme, hostHeader, basePath + (r.path.hasPrefix("/") ? r.path : "/" + r.path))
    }

    static func url(scheme: String, host: String, path: String, query: [(name: String, value: String)], _ r: AWSRequest) throws -> URL {
        let queryString = query.map {
            AWSURIEncoding.encode($0.name, keepSlash: false) + "=" + AWSURIEncoding.encode($0.value, keepSlash: false)
        }.joined(separator: "&")
        guard let url = URL(string: "\(scheme)://\(host)\(path)\(queryString.isEmpty ? "" : "?" + queryString)") else {
            throw AWSConfigError("Could not build a URL for \(r.service.rawValue) \(r.operation).")
        }
        return url
    }

    /// A presigned URL for `r` (query-string SigV4, valid `expires` seconds, at most 7 days). Headers of `r`
    /// other than Host are signed too, so the caller must send them unchanged.
    public func presignedURL(_ r: AWSRequest, expires: Int = 3600) async throws -> URL {
        let (scheme, hostHeader, path) = try address(r)
        var headers: [(name: String, value: String)] = [("Host", hostHeader)]
        for h in r.headers where h.name.lowercased() != "host" { headers.append((h.name, h.value)) }
        let creds = try await credentialsProvider.credentials()
        let signer = SigV4Signer(credentials: creds, region: r.service.signingRegion(region), service: r.service.signingName)
        let payload = r.service == .s3 ? SigV4Request.unsignedPayload : SigV4Request.emptyPayloadHash
        let signed = signer.presign(
            SigV4Request(method: r.method, path: path, query: r.query, headers: headers, payloadHash: payload),
            date: now(), expires: expires)
        return try Self.url(scheme: scheme, host: hostHeader, path: path, query: signed.request.query, r)
    }

    /// Sends with retries; returns the 2xx response or throws `AWSError` / `HTTPError`.
    public func send(_ r: AWSRequest) async throws -> HTTPResponse {
        try await withRetries(r) { req in try await self.http.send(req) }
    }

    /// Like `send`, but streams a 2xx body into `path` (memory stays bounded). The returned body is empty.
    public func download(_ r: AWSRequest, to path: String) async throws -> HTTPResponse {
        try await withRetries(r) { req in try await self.http.download(req, to: path, append: false) }
    }

    private func withRetries(_ r: AWSRequest, _ perform: @Sendable (HTTPRequest) async throws -> HTTPResponse)
        async throws -> HTTPResponse
    {
        var attempt = 1
        var spent = 0
        var refreshedCredentials = false
        let name = Self.serviceDisplayName(r.service)
        while true {
            let req = try await signedRequest(r)
            let failure: AWSRetryStrategy.Failure
            let thrown: any Error
            do {
                let resp = try await perform(req)
                if (200..<300).contains(resp.status) {
                    if r.mayEmbedError,
                        let e = AWSError.embeddedS3Error(operation: r.operation, header: { resp.headers[$0] }, body: resp.body)
                    {
                        // S3 answers some server faults inside a 200; classify those as the 500 they are.
                        var classified = e
                        if ["InternalError", "ServiceUnavailable"].contains(e.code) { classified.status = 500 }
                        failure = .service(classified)
                        thrown = e
                    } else {
                        retry.quota?.release(spent: spent)
                        return resp
                    }
                } else {
                    let e = AWSError.parse(
                        service: name, operation: r.operation, status: resp.status, header: { resp.headers[$0] },
                        body: resp.body)
                    failure = .service(e)
                    thrown = e
                }
            } catch let e as HTTPError {
                if e.kind == .cancelled { throw e }
                failure = .transport(transient: e.isTransient, timeout: e.kind == .timedOut)
                thrown = e
            }
            // Temporary credentials expired between our refresh check and the call: refresh once and retry.
            if !refreshedCredentials, case .service(let e) = failure, Self.expiredTokenCodes.contains(e.code),
                let caching = credentialsProvider as? CachingCredentialsProvider
            {
                refreshedCredentials = true
                await caching.invalidate()
                continue
            }
            guard attempt < retry.maxAttempts, AWSRetryStrategy.isRetryable(failure) else { throw thrown }
            if let quota = retry.quota {
                var isTimeout = false
                if case .transport(_, let t) = failure { isTimeout = t }
                guard let cost = quota.acquire(timeout: isTimeout) else { throw thrown }
                spent += cost
            }
            try await retry.sleep(retry.delay(beforeRetry: attempt))  // backoff before the next retry
            attempt += 1
        }
    }
}
