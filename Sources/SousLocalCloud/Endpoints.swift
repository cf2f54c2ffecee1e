import Foundation
import SousBasics
import HTTPTypes
import SousAWS
import SousHub
import Synchronization

/// A loaded endpoint: the model behind it and how its container answers. Generations run one at a time
/// on the endpoint's own serial queue (a background thread); later requests wait their turn.
final class EndpointHost: Sendable {
    let name: String
    let kind: ContainerKind
    let generator: any TextGenerator
    let environment: [String: String]
    let properties: [String: String]
    let variantName: String
    let maxTotalTokens: Int
    let maxInputTokens: Int
    let queue: DispatchQueue
    let closed = Mutex(false)

    init(
        name: String, kind: ContainerKind, generator: any TextGenerator, environment: [String: String],
        properties: [String: String], variantName: String, contextLength: Int?
    ) {
        self.name = name
        self.kind = kind
        self.generator = generator
        self.environment = environment
        self.properties = properties
        self.variantName = variantName
        let total = environment["MAX_TOTAL_TOKENS"].flatMap { Int($0) } ?? contextLength ?? 2048
        maxTotalTokens = total
        maxInputTokens =
            environment["MAX_INPUT_TOKENS"].flatMap { Int($0) } ?? environment["MAX_INPUT_LENGTH"].flatMap { Int($0) } ?? max(1, total - 1)
        queue = DispatchQueue(label: "sous.local-cloud.endpoint.\(name)", qos: .userInitiated)
    }

    func shutdown() { closed.withLock { $0 = true } }
    var isClosed: Bool { closed.withLock { $0 } }
}

/// Turns an endpoint's container definition into a loaded model: resolves the image, the model data
/// (`ModelDataUrl` tarball or S3 prefix in the local store), `serving.properties` and the weights
/// (local S3 prefix or Hugging Face Hub id), checks memory, then loads the model off the cooperative pool.
struct EndpointLoader: Sendable {
    let configuration: LocalCloudConfiguration
    let s3: S3Store
    let workDirectory: URL

    func load(_ rec: EndpointRecord) async throws -> EndpointHost {
        let c = rec.model.container
        guard let kind = ContainerKind(image: c.image) else {
            throw EndpointFailure(
                "The image \(c.image) is not one the local cloud can run; use a Hugging Face TGI image (…/huggingface-pytorch-tgi-inference:…) or a DJL LMI image (…/djl-inference:…).")
        }
        if configuration.endpointStartupDelay > 0 {
            try await Task.sleep(for: .seconds(configuration.endpointStartupDelay))
        }
        let fm = FileManager.default
        try? fm.removeItem(at: workDirectory)
        try fm.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let code = workDirectory.appendingPathComponent("code", isDirectory: true)
        var haveCode = false
        if let url = c.modelDataUrl {
            try await mount(url, into: code, compressed: url.hasSuffix(".tar.gz") || url.hasSuffix(".tgz"), what: "ModelDataUrl")
            haveCode = true
        } else if let src = c.modelDataSource {
            try await mount(src, into: code, compressed: c.compression == "Gzip", what: "ModelDataSource.S3Uri")
            haveCode = true
        }
        let env = c.environment
        var properties: [String: String] = [:]
        let modelDir: URL
        switch kind {
        case .tgi:
            guard let id = env["HF_MODEL_ID"], !id.isEmpty else {
                throw EndpointFailure("The TGI container needs HF_MODEL_ID in the model's Environment (a Hub id such as org/name, or /opt/ml/model with ModelDataUrl).")
            }
            if id.hasPrefix("/opt/ml/model") {
                guard haveCode else { throw EndpointFailure("HF_MODEL_ID is \(id) but the model has no ModelDataUrl or ModelDataSource to put there.") }
                modelDir = code.appendingPathComponent(String(id.dropFirst("/opt/ml/model".count)))
            } else {
                modelDir = try await hub(id, revision: env["HF_MODEL_REVISION"], env: env)
            }
        case .lmi:
            var modelID = env["OPTION_MODEL_ID"] ?? env["HF_MODEL_ID"]
            var codeRoot = code
            if haveCode {
                if let props = findFile("serving.properties", under: code) {
                    let text = (try? String(contentsOf: props, encoding: .utf8)) ?? ""
                    properties = try ServingProperties.parse(text, file: "serving.properties in \(c.modelDataUrl ?? c.modelDataSource ?? "")")
                    codeRoot = props.deletingLastPathComponent()
                    if let m = properties["option.model_id"], !m.isEmpty { modelID = m }
                    if modelID?.contains("{{") == true {
                        throw EndpointFailure("serving.properties has an unrendered option.model_id=\(modelID!); render the template before packaging it.")
                    }
                } else if modelID == nil {
                    throw EndpointFailure("The model archive \(c.modelDataUrl ?? c.modelDataSource ?? "") holds no serving.properties and the model sets no OPTION_MODEL_ID/HF_MODEL_ID.")
                }
            } else if modelID == nil {
                throw EndpointFailure("The LMI container needs a ModelDataUrl with serving.properties, or OPTION_MODEL_ID / HF_MODEL_ID in the Environment.")
            }
            if let id = modelID, id.hasPrefix("s3://") {
                modelDir = workDirectory.appendingPathComponent("model", isDirectory: true)
                try await mount(id, into: modelDir, compressed: false, what: "option.model_id")
            } else if let id = modelID, !id.hasPrefix("/") {
                modelDir = try await hub(id, revision: properties["option.revision"], env: env)
            } else {
                modelDir = codeRoot
            }
        }
        guard let config = findFile("config.json", under: modelDir) else {
            throw EndpointFailure("Model not found: \(describe(modelDir)) holds no config.json; point the model at a Hugging Face snapshot (config.json, tokenizer.json, *.safetensors).")
        }
        let dir = config.deletingLastPathComponent()
        try checkMemory(dir)
        let loader = configuration.modelLoader
        let generator: any TextGenerator = try await withCheckedThrowingContinuation { cont in
            Thread.detachNewThread {
                do { cont.resume(returning: try loader(dir)) } catch { cont.resume(throwing: error) }
            }
        }
        var contextLength: Int?
        if let d = try? Data(contentsOf: config), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
            contextLength = (o["max_position_embeddings"] as? NSNumber)?.intValue
        }
        return EndpointHost(
            name: rec.name, kind: kind, generator: generator, environment: env, properties: properties,
            variantName: rec.variant.variantName, contextLength: contextLength)
    }

    private func describe(_ dir: URL) -> String {
        dir.path.hasPrefix(workDirectory.path) ? "the model data" : dir.path
    }

    /// Finds `name` in `dir` or up to two levels below (archives often hold one top-level folder).
    func findFile(_ name: String, under dir: URL) -> URL? {
        let fm = FileManager.default
        var level = [dir]
        for _ in 0..<3 {
            var next: [URL] = []
            for d in level {
                let f = d.appendingPathComponent(name)
                if fm.fileExists(atPath: f.path) { return f }
                for sub in ((try? fm.contentsOfDirectory(atPath: d.path)) ?? []).sorted() {
                    var isDir: ObjCBool = false
                    let u = d.appendingPathComponent(sub)
                    if fm.fileExists(atPath: u.path, isDirectory: &isDir), isDir.boolValue { next.append(u) }
                }
            }
            level = next
        }
        return nil
    }

    static func parseS3(_ uri: String) -> (bucket: String, key: String)? {
        guard uri.hasPrefix("s3://") else { return nil }
        let rest = uri.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/") else { return (String(rest), "") }
        return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
    }

    /// Places the object or prefix `uri` of the local S3 store at `dir` (unpacking tarballs with tar).
    private func mount(_ uri: String, into dir: URL, compressed: Bool, what: String) async throws {
        guard let (bucket, key) = Self.parseS3(uri) else {
            throw EndpointFailure("\(what) \(uri) is not an s3:// URI.")
        }
        let fm = FileManager.default
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        guard await s3.bucketExists(bucket) else {
            throw EndpointFailure("Model data not found: \(what) \(uri) names bucket \(bucket), which does not exist in the local cloud.")
        }
        if compressed {
            guard let file = try? await s3.singleFile(bucket, key) else {
                throw EndpointFailure("Model data not found: \(what) \(uri) does not exist in the local cloud's S3; upload it first.")
            }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: fm.isExecutableFile(atPath: "/bin/tar") ? "/bin/tar" : "/usr/bin/tar")
            p.arguments = ["-xzf", file.path, "-C", dir.path]
            p.standardOutput = FileHandle.nullDevice
            let err = Pipe()
            p.standardError = err
            try p.run()
            let msg = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else {
                throw EndpointFailure("\(what) \(uri) is not a valid tar.gz archive: \(String(decoding: msg, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
            }
            return
        }
        var prefix = key
        var objects = try await s3.objects(bucket, prefix: prefix)
        if objects.count == 1, objects[0].key == key {
            // A single object: mount it under its file name.
            let o = objects[0]
            try fm.createSymbolicLink(at: dir.appendingPathComponent((key as NSString).lastPathComponent), withDestinationURL: o.url)
            return
        }
        if !prefix.isEmpty && !prefix.hasSuffix("/") {
            prefix += "/"
            objects = objects.filter { $0.key.hasPrefix(prefix) }
        }
        guard !objects.isEmpty else {
            throw EndpointFailure("Model data not found: \(what) \(uri) holds no objects in the local cloud's S3; upload the model there first.")
        }
        for o in objects {
            let rel = String(o.key.dropFirst(prefix.count))
            guard !rel.isEmpty, !rel.hasSuffix("/"), !rel.split(separator: "/").contains("..") else { continue }
            let target = dir.appendingPathComponent(rel)
            try fm.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
            try fm.createSymbolicLink(at: target, withDestinationURL: o.url)
        }
    }

    private func hub(_ id: String, revision: String?, env: [String: String]) async throws -> URL {
        // Like TGI (HF_MODEL_ID=/data/model) and LMI, an absolute path names a local model folder.
        if id.hasPrefix("/") {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: id, isDirectory: &isDir), isDir.boolValue,
                FileManager.default.fileExists(atPath: id + "/config.json")
            else {
                throw EndpointFailure("Model not found: the folder \(id) does not exist or holds no config.json")
            }
            return URL(fileURLWithPath: id, isDirectory: true)
        }
        let hubEnv = configuration.hubEnvironment
        let endpoint = HubEnvironment.endpoint(env: hubEnv)
        let req = HubSnapshotRequest(
            repoID: id, revision: revision ?? "main", allowPatterns: ["*.json", "*.safetensors", "tokenizer.model", "*.txt"],
            token: env["HF_TOKEN"] ?? env["HUGGING_FACE_HUB_TOKEN"] ?? HubEnvironment.token(env: hubEnv),
            cacheDir: HubEnvironment.cacheDir(env: hubEnv), offline: HubEnvironment.isOffline(env: hubEnv))
        do {
            let snap = try await HubClient(endpoint: endpoint).snapshot(req)
            return URL(fileURLWithPath: snap.path, isDirectory: true)
        } catch {
            throw EndpointFailure("Model not found: \(id) could not be fetched from the Hugging Face Hub at \(endpoint.absoluteString) or found in the cache \(req.cacheDir): \(error)")
        }
    }

    private func checkMemory(_ dir: URL) throws {
        let fm = FileManager.default
        var weights: UInt64 = 0
        for f in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where f.hasSuffix(".safetensors") {
            weights += fileSize(dir.appendingPathComponent(f))
        }
        guard weights > 0 else {
            throw EndpointFailure("Model not found: \(describe(dir)) holds no *.safetensors weights; the local cloud loads safetensors snapshots only.")
        }
        let available = configuration.memoryLimit ?? Self.memAvailable()
        guard let available else { return }
        // The Llama runtime holds the weights in memory (16-bit weights may be widened); leave a margin.
        let needed = weights + weights / 4
        if needed > available {
            func gib(_ b: UInt64) -> String { String(format: "%.1f GiB", Double(b) / Double(1 << 30)) }
            throw EndpointFailure(
                "Not enough memory: the model needs about \(gib(needed)) but only \(gib(available)) is available; use a smaller model or free memory and recreate the endpoint.")
        }
    }

    static func memAvailable() -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
            let kb = line.split(separator: " ").dropFirst().first.flatMap { UInt64($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }
}

/// The size of the file at `url`, following symlinks (Hub cache snapshots and mounted S3 objects are links).
func fileSize(_ url: URL) -> UInt64 {
    FileStatus(url.path)?.size ?? 0
}
