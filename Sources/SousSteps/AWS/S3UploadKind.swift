import Foundation
import SousAWS
import SousEngine
import SousRecipe
import Synchronization

/// `s3.upload`: a file or folder to S3, like `sagemaker.Session.upload_data`.
///
/// A folder goes under `prefix` keeping relative paths and gives the prefix URI; a file goes to
/// `prefix/<file name>` (or `key`) and gives the object URI. Objects already holding the same bytes are not
/// sent again; an interrupted multipart upload resumes from the parts S3 already has (state under the
/// recipe's workspace folder, `uploads/<step>/`).
struct S3UploadKind: StepKind {
    static let configuration = StepKindConfiguration(
        name: "s3.upload", version: 1, category: .create,
        summary: "Upload a file or folder to S3 (folder → prefix URI, file → object URI), resuming and skipping unchanged objects.")

    struct Inputs: StepInputs {
        @Input(.path, "the file or folder to upload (relative paths are under the workspace folder)") var source: String
        @Input("the bucket") var bucket: String
        @Input(default: "", "key prefix (a folder's files keep their relative paths under it)") var prefix: String
        @Input("exact key for a file upload (instead of prefix/<file name>)") var key: String?
        @Input("multipart part size in bytes (default or 0: a sixteenth of each file, 8-64 MiB; S3 needs at least 5 MiB, emulators accept less)")
        var partSize: Int?
        @Input(default: .int(8 << 20), "files at least this large use multipart upload") var multipartThreshold: Int
        @Input(default: 8, "parts or small files sent at once") var concurrency: Int
        @Input("Content-Type of the objects") var contentType: String?
        @Input(default: true, "tag each uploaded object with the sous:* tags") var tagObjects: Bool
        @Input("AWS region of the bucket (default: the configured region)") var region: String?
        @Input("extra object tags (S3 keeps at most 10 per object)") var tags: ValueMap?
    }

    struct Outputs: StepOutputs {
        @Output("s3://bucket/prefix for a folder, s3://bucket/key for a file") var uri: String
        @Output("the bucket") var bucket: String
        @Output("the key prefix (folder) or the key (file)") var prefix: String
        @Output("the object key of a file upload (empty for a folder)") var key: String
        @Output("every object key") var keys: [Value]
        @Output("number of files") var files: Int
        @Output("total bytes") var bytes: Int
        @Output("files actually sent (the others were unchanged)") var uploaded: Int
        @Output("multipart parts taken over from an interrupted upload") var partsReused: Int
    }

    static let resourceType = "s3.objects"

    func planDetails(_ inputs: Inputs) -> [String] { ["→ s3://\(inputs.bucket)/\(inputs.prefix)"] }

    static func stateDirectory(_ ctx: StepContext, step: String) -> String { ctx.layout.recipeDir + "/uploads/" + step }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let source = inputs.source
        let src = source.hasPrefix("/") ? source : ctx.layout.workDir + "/" + source
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: src, isDirectory: &isDir) else {
            throw StepError("source '\(source)' does not exist")
        }
        let bucket = inputs.bucket
        let prefix = inputs.prefix.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let client = try await AWSSteps.client(ctx, region: inputs.region)
        let s3 = S3Client(client)
        var options = S3TransferOptions()
        if let requested = inputs.partSize, requested > 0 {
            let partSize = UInt64(max(1024, requested))
            options.partSize = partSize
            options.minimumPartSize = min(options.minimumPartSize, partSize)
        } else {
            options.automaticPartSize = true
        }
        options.multipartThreshold = UInt64(max(1, inputs.multipartThreshold))
        options.concurrency = max(1, inputs.concurrency)
        options.contentType = inputs.contentType
        options.stateDirectory = Self.stateDirectory(ctx, step: ctx.stepID)
        let killAfter = ctx.crashParameter("s3.upload.bytes:").flatMap { UInt64($0) }
        let meter = ProgressMeter()
        options.progress = { done, total in
            if let killAfter, done >= killAfter, done < total { ctx.crashPoint("s3.upload.bytes:\(killAfter)") }
            guard let elapsed = meter.elapsedIfDue(final: done == total) else { return }
            let secs = max(0.001, AWSSteps.seconds(elapsed))
            ctx.progress(String(format: "%.1f/%.1f MiB, %.1f MiB/s", Double(done) / 1_048_576, Double(total) / 1_048_576, Double(done) / 1_048_576 / secs))
        }
        let folder = isDir.boolValue
        let key: String
        if folder {
            key = ""
        } else if let k = inputs.key, !k.isEmpty {
            key = k
        } else {
            let name = (src as NSString).lastPathComponent
            key = prefix.isEmpty ? name : prefix + "/" + name
        }
        // The ledger name marks folders with a trailing slash (destroy of an unfinished upload then deletes
        // only under the prefix).
        let name = folder ? "s3://\(bucket)/\(prefix)/" : "s3://\(bucket)/\(key)"
        let request = ResourceRequest(.map(["source": .string(src), "bucket": .string(bucket), "prefix": .string(prefix), "key": .string(key)]))
        var tagged = options
        // Tags travel with the upload (x-amz-tagging), not as one PutObjectTagging request per object.
        if inputs.tagObjects { tagged.tags = AWSSteps.tags(ctx, extra: inputs.tags) }
        let opts = tagged
        var files: [S3UploadResult] = []
        var uri = ""
        let started = ContinuousClock.now
        _ = try await ctx.createResource(
            type: Self.resourceType, name: name, request: request, find: { nil },
            create: {
                if folder {
                    let r = try await s3.uploadFolder(src, bucket: bucket, prefix: prefix, options: opts)
                    (files, uri) = (r.files, r.uri)
                } else {
                    let r = try await s3.uploadFile(src, bucket: bucket, key: key, options: opts)
                    (files, uri) = ([r], r.uri)
                }
                return [
                    "bucket": .string(bucket), "region": .string(client.region), "folder": .bool(folder),
                    "keys": .list(files.map { .string($0.key) }),
                ]
            })
        // Earlier unfinished records of this same upload are now superseded by this one.
        for old in ctx.liveResources(type: Self.resourceType) where old.step == ctx.stepID && old.name == name && old.runID != ctx.runID {
            try ctx.markDeleted(old)
        }
        let bytes = files.reduce(UInt64(0)) { $0 + $1.size }
        let sent = files.filter(\.uploaded)
        let secs = max(0.001, AWSSteps.seconds(ContinuousClock.now - started))
        ctx.log(String(format: "%@: %d files, %d sent, %d unchanged, %.1f MiB in %.2f s (%.1f MiB/s)", uri, files.count, sent.count,
                       files.count - sent.count, Double(bytes) / 1_048_576, secs, Double(sent.reduce(UInt64(0)) { $0 + $1.size }) / 1_048_576 / secs))
        var outputs = Outputs()
        outputs.uri = uri
        outputs.bucket = bucket
        outputs.prefix = folder ? prefix : key
        outputs.key = key
        outputs.keys = files.map { .string($0.key) }
        outputs.files = files.count
        outputs.bytes = Int(bytes)
        outputs.uploaded = sent.count
        outputs.partsReused = files.reduce(0) { $0 + $1.partsReused }
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        let bucket = outputs.bucket
        let keys = outputs.keys.compactMap(\.stringValue)
        do {
            let client = try await AWSSteps.client(ctx, region: inputs.region)
            let s3 = S3Client(client)
            if keys.count <= 8 {
                for k in keys where try await s3.headObject(bucket: bucket, key: k) == nil {
                    return .invalid("object s3://\(bucket)/\(k) no longer exists")
                }
            } else {
                let prefix = outputs.prefix
                let listed = Set(try await s3.listObjects(bucket: bucket, prefix: prefix.isEmpty ? nil : prefix).map(\.key))
                if let gone = keys.first(where: { !listed.contains($0) }) {
                    return .invalid("object s3://\(bucket)/\(gone) no longer exists")
                }
            }
            return .valid
        } catch {
            return .invalid("could not check the uploaded objects in \(bucket) (\(error))")
        }
    }

    func destroy(_ resource: LedgerEntry, ctx: StepContext) async throws {
        guard let uri = S3URI(resource.name) else { return }
        let client = try await AWSClientCache.shared(ctx).client(ctx, region: resource.attributes["region"]?.stringValue)
        let s3 = S3Client(client)
        // Unfinished multipart uploads of this step: abort them so no parts are left behind.
        let dir = Self.stateDirectory(ctx, step: resource.step)
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasSuffix(".json") {
            if let st = S3MultipartState.load(from: dir + "/" + f), st.bucket == uri.bucket {
                try? await s3.abortMultipartUpload(bucket: st.bucket, key: st.key, uploadId: st.uploadId)
                try? FileManager.default.removeItem(atPath: dir + "/" + f)
            }
        }
        // Unfinished uploads no state file knows (lost, or begun by a run killed before it wrote one): every
        // upload under the step's prefix (a folder), or of its key (a file).
        let folder = resource.name.hasSuffix("/")
        if !folder || uri.key.count > 1 {
            do {
                for u in try await s3.listMultipartUploads(bucket: uri.bucket, prefix: uri.key) where folder || u.key == uri.key {
                    try await s3.abortMultipartUpload(bucket: uri.bucket, key: u.key, uploadId: u.uploadId)
                    ctx.log("aborted the unfinished upload \(u.uploadId) of s3://\(uri.bucket)/\(u.key)")
                }
            } catch {
                ctx.log("could not list the unfinished uploads under \(resource.name): \(error)")
            }
        }
        var keys = AWSSteps.strings(resource.attributes["keys"])
        if resource.state == .intent || keys.isEmpty {
            if folder {
                let prefix = uri.key
                guard prefix.count > 1 else {
                    ctx.warn("not deleting unfinished upload \(resource.name): its prefix is the whole bucket")
                    return
                }
                keys = try await s3.listObjects(bucket: uri.bucket, prefix: prefix).map(\.key)
            } else {
                keys = [uri.key]
            }
        }
        let failed = try await s3.deleteObjects(bucket: uri.bucket, keys: keys)
        if let f = failed.first {
            throw StepError("\(failed.count) of \(keys.count) objects in \(uri.bucket) were not deleted, e.g. \(f.key): \(f.code) \(f.message)")
        }
    }
}

/// When the `s3.upload` step last showed its progress: at most every 200 ms, and always at the end.
final class ProgressMeter: Sendable {
    private let times: Mutex<(start: ContinuousClock.Instant, last: ContinuousClock.Instant)>

    init() {
        let now = ContinuousClock.now
        times = Mutex((start: now, last: now - .seconds(1)))
    }

    /// The time since the start when a progress line is due now (200 ms after the last one, or `final`);
    /// nil otherwise.
    func elapsedIfDue(final: Bool) -> Duration? {
        let now = ContinuousClock.now
        return times.withLock { t in
            guard now - t.last >= .milliseconds(200) || final else { return nil }
            t.last = now
            return now - t.start
        }
    }
}
