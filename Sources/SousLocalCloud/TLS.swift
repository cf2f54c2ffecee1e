import Foundation
import HummingbirdCore
import Logging
import NIOCore
import NIOSSL

/// HTTPS on the local cloud's port, beside plain HTTP. Some clients speak only TLS whatever the endpoint's scheme:
/// boto3's CRT transfer manager creates its S3 client with TLS always on (boto/boto3#4689), and met a plain HTTP
/// server with `AWS_IO_SOCKET_CLOSED`. A connection whose first byte opens a TLS handshake gets TLS in front of the
/// HTTP codec; any other stays plain HTTP (``TLSOrPlainChannel``).
///
/// The certificate (EC P-256, for 127.0.0.1 and localhost, ten years) is made once per workspace with the `openssl`
/// tool into `tls/cert.pem` and `tls/key.pem` (mode 0600); `tls/ca-bundle.pem` is the system's CA bundle plus that
/// certificate, for `SSL_CERT_FILE`, which is how a client such as the CRT is told to trust it. Without the
/// `openssl` tool the server answers plain HTTP only, and says so in its log.
enum LocalCloudTLS {
    /// Where the system keeps its CA bundle (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS).
    static let systemBundles = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]

    /// The TLS context of the certificate in `directory`, made first when missing; nil when it cannot be made.
    static func context(directory: URL, log: (String) -> Void) -> NIOSSLContext? {
        let cert = directory.appendingPathComponent("cert.pem"), key = directory.appendingPathComponent("key.pem")
        do {
            let fm = FileManager.default
            if !fm.fileExists(atPath: cert.path) || !fm.fileExists(atPath: key.path) { try generate(cert: cert, key: key) }
            let bundle = directory.appendingPathComponent("ca-bundle.pem")
            if !fm.fileExists(atPath: bundle.path) { try writeBundle(bundle, adding: cert) }
            let configuration = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(cert.path).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: key.path, format: .pem)))
            return try NIOSSLContext(configuration: configuration)
        } catch {
            log("TLS is off (plain HTTP only): \(error)")
            return nil
        }
    }

    /// Makes a self-signed certificate and its key with `openssl req`.
    static func generate(cert: URL, key: URL) throws {
        try FileManager.default.createDirectory(at: cert.deletingLastPathComponent(), withIntermediateDirectories: true)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650",
            "-subj", "/CN=sous local cloud", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout", key.path, "-out", cert.path,
        ]
        let output = Pipe()
        p.standardOutput = output
        p.standardError = output
        p.standardInput = FileHandle.nullDevice
        // The key file exists, mode 0600, before openssl writes into it (it truncates, keeping the mode).
        guard FileManager.default.createFile(atPath: key.path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
            throw LocalCloudError("Could not create \(key.path) for the local cloud's TLS key; check the workspace is writable.")
        }
        try p.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw LocalCloudError("`openssl req` could not make the local cloud's certificate (exit \(p.terminationStatus)): \(text.suffix(300))")
        }
    }

    /// Writes the system's CA bundle (when there is one) followed by `cert`.
    static func writeBundle(_ bundle: URL, adding cert: URL) throws {
        var data = Data()
        if let system = systemBundles.lazy.compactMap({ FileManager.default.contents(atPath: $0) }).first {
            data = system
            if data.last != UInt8(ascii: "\n") { data.append(UInt8(ascii: "\n")) }
        }
        data.append(try Data(contentsOf: cert))
        try data.write(to: bundle, options: .atomic)
    }
}

/// The HTTP/1.1 child channel of ``LocalCloudServer``, with TLS for the connections that open with a handshake.
struct TLSOrPlainChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = HTTP1Channel.Value
    let base: HTTP1Channel
    let tls: NIOSSLContext?

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        if let tls {
            do {
                try channel.pipeline.syncOperations.addHandler(TLSSniffer(tls))
            } catch {
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
        return base.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async { await base.handle(value: value, logger: logger) }

    var responder: HTTPChannelHandler.Responder { base.responder }
}

/// Looks at a connection's first byte: 0x16 (a TLS handshake record) puts a TLS handler after it, in front of the
/// HTTP codec; then it hands the bytes on and leaves the pipeline.
final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private let tls: NIOSSLContext

    init(_ tls: NIOSSLContext) { self.tls = tls }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if unwrapInboundIn(data).readableBytesView.first == 0x16 {
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls), position: .after(self))
            } catch {
                context.fireErrorCaught(error)
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
