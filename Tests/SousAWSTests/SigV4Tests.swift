import Foundation
import SousAWS
import SousTestSupport
import Testing

/// A request parsed from the test-suite `.req` / `request.txt` format.
struct SuiteRequest {
    var method: String
    var path: String
    var rawQuery: String
    var headers: [(name: String, value: String)]
    var body: Data

    init(text: String) {
        var lines = text.components(separatedBy: "\n")
        let requestLine = lines.removeFirst()
        // Split on the first and LAST space: paths may hold spaces.
        let first = requestLine.firstIndex(of: " ")!
        let last = requestLine.lastIndex(of: " ")!
        method = String(requestLine[..<first])
        let target = String(requestLine[requestLine.index(after: first)..<last])
        if let q = target.firstIndex(of: "?") {
            path = String(target[..<q])
            rawQuery = String(target[target.index(after: q)...])
        } else {
            path = target
            rawQuery = ""
        }
        headers = []
        var bodyLines: [String]? = nil
        for line in lines {
            if bodyLines != nil { bodyLines!.append(line); continue }
            if line.isEmpty { bodyLines = []; continue }
            if line.first == " " || line.first == "\t", !headers.isEmpty {
                headers[headers.count - 1].value += " " + line.trimmingCharacters(in: .whitespaces)
                continue
            }
            let colon = line.firstIndex(of: ":")!
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...])))
        }
        body = Data((bodyLines ?? []).joined(separator: "\n").utf8)
    }

    func sigV4(payloadHash: String) -> SigV4Request {
        SigV4Request(
            method: method, path: path, query: AWSURIEncoding.parseQuery(rawQuery),
            headers: headers.filter { $0.name.lowercased() != "x-amz-date" }, payloadHash: payloadHash)
    }
}

func sha256Hex(_ data: Data) -> String {
    // Hash through the signer-independent path: a well-known value for the empty body, else SousCrypto via
    // the public AWS helper.
    AWSHashing.sha256Hex(data)
}

let suiteDate = Date(timeIntervalSince1970: 1_440_938_160)  // 2015-08-30T12:36:00Z
let suiteCredentials = AWSCredentials(
    accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
let stsToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA=="

func read(_ url: URL) throws -> String { try String(contentsOf: url, encoding: .utf8) }

@Suite("SigV4 signer against the AWS test suites")
struct SigV4SuiteTests {
    /// Case folders (those holding a `.req`) of the classic aws4_testsuite.
    static func classicCases() -> [URL] {
        guard let root = TestPaths.shared("testdata/sigv4/aws4_testsuite") else { return [] }
        let e = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
        var out: [URL] = []
        while let u = e?.nextObject() as? URL {
            if u.pathExtension == "req" { out.append(u) }
        }
        return out.sorted { $0.path < $1.path }
    }

    @Test(
        "classic aws4_testsuite: canonical request, string to sign, Authorization for all cases",
        .enabled(if: TestPaths.shared("testdata/sigv4/aws4_testsuite") != nil, "needs ../shared/testdata/sigv4/aws4_testsuite"))
    func classic() throws {
        let cases = Self.classicCases()
        #expect(cases.count == 34)
        for reqURL in cases {
            let base = reqURL.deletingPathExtension()
            let name = base.lastPathComponent
            let req = SuiteRequest(text: try read(reqURL))
            var creds = suiteCredentials
            var signer = SigV4Signer(credentials: creds, region: "us-east-1", service: "service")
            var input = req.sigV4(payloadHash: sha256Hex(req.body))
            if let token = req.headers.first(where: { $0.name.lowercased() == "x-amz-security-token" })?.value {
                creds.sessionToken = token
                input.headers.removeAll { $0.name.lowercased() == "x-amz-security-token" }
            } else if name == "get-vanilla-with-session-token" {
                creds.sessionToken = "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267"
            } else if name == "post-sts-header-after" {
                creds.sessionToken = stsToken
                signer.signSessionToken = false
            }
            signer.credentials = creds
            let s = signer.sign(input, date: suiteDate)
            let creq = try read(base.appendingPathExtension("creq"))
            let sts = try read(base.appendingPathExtension("sts"))
            let authz = try read(base.appendingPathExtension("authz"))
            #expect(s.canonicalRequest == creq, "\(name) canonical request")
            #expect(s.stringToSign == sts, "\(name) string to sign")
            #expect(s.authorization == authz, "\(name) authorization")
            if creds.sessionToken != nil {
                #expect(s.request.header("x-amz-security-token") == creds.sessionToken, "\(name) token header")
            }
        }
    }

    static func cAuthCases() -> [URL] {
        guard let root = TestPaths.shared("testdata/sigv4/aws-c-auth-v4") else { return [] }
        let items = (try? FileManager.default.contentsOfDirectory(at: root, includingPropertiesForKeys: nil)) ?? []
        return items.filter { FileManager.default.fileExists(atPath: $0.appendingPathComponent("context.json").path) }
            .sorted { $0.path < $1.path }
    }

    struct Context: Decodable {
        struct Creds: Decodable {
            var access_key_id: String
            var secret_access_key: String
            var token: String?
        }
        var credentials: Creds
        var expiration_in_seconds: Int
        var normalize: Bool
        var region: String
        var service: String
        var sign_body: Bool
        var omit_session_token: Bool?
    }

    @Test(
        "aws-c-auth v4: header and presigned-query signing for all cases",
        .enabled(if: TestPaths.shared("testdata/sigv4/aws-c-auth-v4") != nil, "needs ../shared/testdata/sigv4/aws-c-auth-v4"))
    func cAuth() throws {
        let cases = Self.cAuthCases()
        #expect(cases.count == 38)
        for dir in cases {
            let name = dir.lastPathComponent
            let ctx = try JSONDecoder().decode(Context.self, from: Data(contentsOf: dir.appendingPathComponent("context.json")))
            let req = SuiteRequest(text: try read(dir.appendingPathComponent("request.txt")))
            var signer = SigV4Signer(
                credentials: AWSCredentials(
                    accessKeyId: ctx.credentials.access_key_id, secretAccessKey: ctx.credentials.secret_access_key,
                    sessionToken: ctx.credentials.token),
                region: ctx.region, service: ctx.service)
            signer.normalizePath = ctx.normalize
            signer.signPayloadHeader = ctx.sign_body
            signer.signSessionToken = !(ctx.omit_session_token ?? false)
            let input = req.sigV4(payloadHash: sha256Hex(req.body))
            let h = signer.sign(input, date: suiteDate)
            #expect(h.canonicalRequest == (try read(dir.appendingPathComponent("header-canonical-request.txt"))), "\(name) header creq")
            #expect(h.stringToSign == (try read(dir.appendingPathComponent("header-string-to-sign.txt"))), "\(name) header sts")
            #expect(h.signature == (try read(dir.appendingPathComponent("header-signature.txt"))), "\(name) header signature")
            let signedReq = try read(dir.appendingPathComponent("header-signed-request.txt"))
            #expect(signedReq.contains("Authorization:\(h.authorization)\n"), "\(name) authorization line")

            var q = signer
            q.signPayloadHeader = false
            let p = q.presign(input, date: suiteDate, expires: ctx.expiration_in_seconds)
            #expect(p.canonicalRequest == (try read(dir.appendingPathComponent("query-canonical-request.txt"))), "\(name) query creq")
            #expect(p.stringToSign == (try read(dir.appendingPathComponent("query-string-to-sign.txt"))), "\(name) query sts")
            #expect(p.signature == (try read(dir.appendingPathComponent("query-signature.txt"))), "\(name) query signature")
        }
    }

    @Test(
        "verifier accepts every suite request it signed and rejects a wrong secret or unknown key",
        .enabled(if: TestPaths.shared("testdata/sigv4/aws-c-auth-v4") != nil, "needs ../shared/testdata/sigv4/aws-c-auth-v4"))
    func verifierRoundTrip() throws {
        let cases = Self.cAuthCases()
        try #require(!cases.isEmpty)
        let verifier = SigV4Verifier(maxClockSkew: 900)
        let secret = suiteCredentials.secretAccessKey
        for dir in cases where !dir.lastPathComponent.contains("unnormalized") {
            let req = SuiteRequest(text: try read(dir.appendingPathComponent("request.txt")))
            let signer = SigV4Signer(credentials: suiteCredentials, region: "us-east-1", service: "service")
            let hash = sha256Hex(req.body)
            let s = signer.sign(req.sigV4(payloadHash: hash), date: suiteDate)
            // The server sees the query string as sent: re-encode the (decoded) pairs.
            let raw = s.request.query.map {
                AWSURIEncoding.encode($0.name, keepSlash: false) + "=" + AWSURIEncoding.encode($0.value, keepSlash: false)
            }.joined(separator: "&")
            let ok = verifier.verify(
                method: req.method, path: req.path, rawQuery: raw, headers: s.request.headers, bodySHA256: hash,
                now: suiteDate, lookup: { $0 == "AKIDEXAMPLE" ? .init(secretAccessKey: secret) : nil })
            #expect(ok == .valid(accessKeyId: "AKIDEXAMPLE", region: "us-east-1", service: "service"), "\(dir.lastPathComponent)")
            let bad = verifier.verify(
                method: req.method, path: req.path, rawQuery: raw, headers: s.request.headers, bodySHA256: hash,
                now: suiteDate, lookup: { _ in .init(secretAccessKey: "wrong") })
            #expect(bad.code == "SignatureDoesNotMatch")
            let unknown = verifier.verify(
                method: req.method, path: req.path, rawQuery: raw, headers: s.request.headers, bodySHA256: hash,
                now: suiteDate, lookup: { _ in nil })
            #expect(unknown.code == "InvalidClientTokenId")
            let skewed = verifier.verify(
                method: req.method, path: req.path, rawQuery: raw, headers: s.request.headers, bodySHA256: hash,
                now: suiteDate.addingTimeInterval(3600), lookup: { _ in .init(secretAccessKey: secret) })
            #expect(skewed.code == "RequestTimeTooSkewed")
        }
    }
}

@Suite("SigV4 S3 rules")
struct SigV4S3Tests {
    let creds = AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")

    @Test("S3 keys are encoded once, not normalised, and x-amz-content-sha256 is signed")
    func s3SingleEncoding() {
        let signer = SigV4Signer(credentials: creds, region: "us-east-1", service: "s3")
        let key = "dir//a b/ü+%=&./../x"
        let path = "/bucket/" + AWSURIEncoding.encodeKey(key)
        #expect(path == "/bucket/dir//a%20b/%C3%BC%2B%25%3D%26./../x")
        let s = signer.sign(
            SigV4Request(method: "PUT", path: path, headers: [("Host", "s3.us-east-1.amazonaws.com")],
                         payloadHash: SigV4Request.unsignedPayload),
            date: suiteDate)
        let lines = s.canonicalRequest.components(separatedBy: "\n")
        #expect(lines[1] == path)
        #expect(lines.contains("x-amz-content-sha256:UNSIGNED-PAYLOAD"))
        #expect(lines.last == "UNSIGNED-PAYLOAD")
        #expect(s.signedHeaders == "host;x-amz-content-sha256;x-amz-date")
        #expect(s.request.header("x-amz-content-sha256") == "UNSIGNED-PAYLOAD")
        // Verifier (S3 rules) accepts it; the non-S3 rules would double-encode and fail.
        let v = SigV4Verifier(maxClockSkew: nil)
        let outcome = v.verify(
            method: "PUT", path: path, rawQuery: "", headers: s.request.headers, bodySHA256: nil,
            lookup: { _ in .init(secretAccessKey: creds.secretAccessKey) })
        #expect(outcome.isValid)
    }

    @Test("non-S3 services double-encode an already-encoded path")
    func doubleEncoding() {
        let signer = SigV4Signer(credentials: creds, region: "us-east-1", service: "sagemaker")
        let s = signer.sign(
            SigV4Request(method: "GET", path: "/a%20b", headers: [("Host", "h")], payloadHash: SigV4Request.emptyPayloadHash),
            date: suiteDate)
        #expect(s.canonicalRequest.components(separatedBy: "\n")[1] == "/a%2520b")
        #expect(s.request.header("x-amz-content-sha256") == nil)
    }

    @Test("session token is signed as x-amz-security-token; presigned S3 URL verifies and expires")
    func tokenAndPresign() {
        var c = creds
        c.sessionToken = "tok/en+=="
        let signer = SigV4Signer(credentials: c, region: "eu-west-1", service: "s3")
        let s = signer.sign(
            SigV4Request(method: "GET", path: "/b/k", headers: [("host", "b.s3")], payloadHash: SigV4Request.emptyPayloadHash),
            date: suiteDate)
        #expect(s.signedHeaders.contains("x-amz-security-token"))
        #expect(s.request.header("X-Amz-Security-Token") == "tok/en+==")
        #expect(!s.authorization.contains("tok/en"))
        #expect(!String(describing: c).contains(c.secretAccessKey))
        #expect(!String(describing: c).contains("tok/en"))

        let p = signer.presign(
            SigV4Request(method: "GET", path: "/b/k", headers: [("host", "b.s3")], payloadHash: SigV4Request.unsignedPayload),
            date: suiteDate, expires: 60)
        let raw = p.request.query.map {
            AWSURIEncoding.encode($0.name, keepSlash: false) + "=" + AWSURIEncoding.encode($0.value, keepSlash: false)
        }.joined(separator: "&")
        let v = SigV4Verifier()
        let lookup: (String) -> SigV4Verifier.KeySecret? = { _ in .init(secretAccessKey: c.secretAccessKey, sessionToken: "tok/en+==") }
        #expect(v.verify(method: "GET", path: "/b/k", rawQuery: raw, headers: [("host", "b.s3")], bodySHA256: nil,
                         now: suiteDate.addingTimeInterval(30), lookup: lookup).isValid)
        #expect(v.verify(method: "GET", path: "/b/k", rawQuery: raw, headers: [("host", "b.s3")], bodySHA256: nil,
                         now: suiteDate.addingTimeInterval(120), lookup: lookup).code == "AccessDenied")
        #expect(v.verify(method: "GET", path: "/b/other", rawQuery: raw, headers: [("host", "b.s3")], bodySHA256: nil,
                         now: suiteDate, lookup: lookup).code == "SignatureDoesNotMatch")
    }
}
