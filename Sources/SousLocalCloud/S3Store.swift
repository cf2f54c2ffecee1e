import Foundation
import HTTPTypes
import SousCrypto

/// One stored object's metadata (`objects/<sha256(key)>.json`); the bytes are in `file`, a name that is
/// unique per version so a crash between steps never pairs metadata with the wrong bytes.
struct S3ObjectMeta: Codable, Sendable {
    var key: String
    var size: UInt64
    /// Hex MD5, or `<hex>-N` for multipart uploads (without quotes).
    var etag: String
    var lastModified: Date
    var contentType: String?
    var metadata: [String: String]
    /// The data file; for a multipart object, the first of `segments`.
    var file: String
    var tags: [String: String]? = nil
    /// A completed multipart upload keeps its parts as the object's bytes, in order (no copy at completion);
    /// nil for an object held in one file.
    var segments: [S3Segment]? = nil
    /// The flexible checksum the object was uploaded with, if any.
    var checksum: StoredChecksum? = nil
    /// The parts of an object uploaded in parts (GetObject `partNumber`, GetObjectAttributes); nil otherwise.
    var parts: [S3ObjectPart]? = nil

    /// The files holding the bytes, in order, with their sizes.
    var pieces: [S3Segment] { segments ?? [S3Segment(file: file, size: size)] }
}

/// One file of an object's bytes.
struct S3Segment: Codable, Sendable, Equatable {
    var file: String
    var size: UInt64
}

/// One part of an object uploaded in parts: its number, size and checksum (base64, of the upload's algorithm).
struct S3ObjectPart: Codable, Sendable, Equatable {
    var number: Int
    var size: UInt64
    var checksum: String?
}

/// A flexible checksum as S3 stores and returns it (of an object or of one part).
struct StoredChecksum: Codable, Sendable, Equatable {
    var algorithm: ChecksumAlgorithm
    /// Base64; a composite checksum ends in `-<parts>`.
    var value: String
    var type: ChecksumType

    init(algorithm: ChecksumAlgorithm, value: String, type: ChecksumType) {
        self.algorithm = algorithm
        self.value = value
        self.type = type
    }

    /// The full-object checksum of `digest`.
    init(_ algorithm: ChecksumAlgorithm, digest: [UInt8]) {
        self.init(algorithm: algorithm, value: digest.base64String, type: .fullObject)
    }

    /// The raw digest (nil for a composite value).
    var digest: [UInt8]? { value.contains("-") ? nil : Data(base64Encoded: value).map { [UInt8]($0) } }

    private enum CodingKeys: String, CodingKey { case algorithm, value, type }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let name = try c.decode(String.self, forKey: .algorithm)
        guard let a = ChecksumAlgorithm(awsName: name) else {
            throw DecodingError.dataCorruptedError(forKey: .algorithm, in: c, debugDescription: "unknown checksum algorithm \(name)")
        }
        self.init(algorithm: a, value: try c.decode(String.self, forKey: .value), type: try c.decode(ChecksumType.self, forKey: .type))
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(algorithm.rawValue, forKey: .algorithm)
        try c.encode(value, forKey: .value)
        try c.encode(type, forKey: .type)
    }
}

/// How a multipart object's checksum is made: from the whole object's bytes, or from its parts' checksums.
enum ChecksumType: String, Codable, Sendable {
    case fullObject = "FULL_OBJECT"
    case composite = "COMPOSITE"
}


struct S3BucketInfo: Codable, Sendable {
    var name: String
    var created: Date
    var tags: [String: String]? = nil
}

struct S3UploadInfo: Codable, Sendable {
    var bucket: String
    var key: String
    var uploadId: String
    var created: Date
    var contentType: String?
    var metadata: [String: String]
    var tags: [String: String]?
    /// The checksum algorithm (AWS name) and type CreateMultipartUpload asked for.
    var checksumAlgorithmName: String? = nil
    var checksumType: ChecksumType? = nil

    var checksumAlgorithm: ChecksumAlgorithm? { checksumAlgorithmName.flatMap { ChecksumAlgorithm(awsName: $0) } }
}

struct S3PartInfo: Codable, Sendable {
    var number: Int
    var etag: String
    var size: UInt64
    var file: String
    var lastModified: Date
    /// The part's flexible checksum, when it has one.
    var checksum: StoredChecksum? = nil
}

/// A file received from a request body (or copied from another object): where it is, its size and digests.
struct ReceivedFile: Sendable {
    var url: URL
    var size: UInt64
    var md5: [UInt8]
    /// The flexible checksum computed over the bytes, when one was asked for.
    var checksum: (algorithm: ChecksumAlgorithm, digest: [UInt8])? = nil
}

/// The S3 data, on disk under `data/s3/` with an in-memory index. Objects are plain files; writes go to a
/// temporary file first and become visible by rename, so a kill -9 leaves either the old or the new object.
actor S3Store {
    let root: URL
    let tmp: URL
    private var buckets: [String: S3BucketInfo] = [:]
    private var objects: [String: [String: S3ObjectMeta]] = [:]
    private var uploads: [String: S3UploadInfo] = [:]
    private var parts: [String: [Int: S3PartInfo]] = [:]

    init(dataDirectory: URL) throws {
        root = dataDirectory.appendingPathComponent("s3", isDirectory: true)
        tmp = dataDirectory.appendingPathComponent("tmp", isDirectory: true)
        let fm = FileManager.default
        try fm.createDirectory(at: root, withIntermediateDirectories: true)
        // Partial uploads from a killed server are garbage.
        try? fm.removeItem(at: tmp)
        try fm.createDirectory(at: tmp, withIntermediateDirectories: true)
        let dec = JSONDecoder()
        for name in (try? fm.contentsOfDirectory(atPath: root.path)) ?? [] {
            let dir = root.appendingPathComponent(name)
            guard let d = try? Data(contentsOf: dir.appendingPathComponent("bucket.json")),
                let info = try? dec.decode(S3BucketInfo.self, from: d)
            else { continue }
            buckets[name] = info
            var objs: [String: S3ObjectMeta] = [:]
            let objDir = dir.appendingPathComponent("objects")
            let files = Set((try? fm.contentsOfDirectory(atPath: objDir.path)) ?? [])
            var referenced = Set<String>()
            for f in files where f.hasSuffix(".json") {
                guard let d = try? Data(contentsOf: objDir.appendingPathComponent(f)),
                    let m = try? dec.decode(S3ObjectMeta.self, from: d), m.pieces.allSatisfy({ files.contains($0.file) })
                else { continue }
                objs[m.key] = m
                referenced.insert(f)
                for p in m.pieces { referenced.insert(p.file) }
            }
            for f in files where !referenced.contains(f) { try? fm.removeItem(at: objDir.appendingPathComponent(f)) }
            objects[name] = objs
            let upDir = dir.appendingPathComponent("uploads")
            for id in (try? fm.contentsOfDirectory(atPath: upDir.path)) ?? [] {
                let u = upDir.appendingPathComponent(id)
                guard let d = try? Data(contentsOf: u.appendingPathComponent("upload.json")),
                    let info = try? dec.decode(S3UploadInfo.self, from: d)
                else {
                    try? fm.removeItem(at: u)
                    continue
                }
                uploads[id] = info
                var ps: [Int: S3PartInfo] = [:]
                let pfiles = Set((try? fm.contentsOfDirectory(atPath: u.path)) ?? [])
                for f in pfiles where f.hasPrefix("part-") && f.hasSuffix(".json") {
                    if let d = try? Data(contentsOf: u.appendingPathComponent(f)),
                        let p = try? dec.decode(S3PartInfo.self, from: d), pfiles.contains(p.file)
                    {
                        ps[p.number] = p
                    }
                }
                let keep = Set(ps.values.flatMap { ["part-\($0.number).json", $0.file] } + ["upload.json"])
                for f in pfiles where !keep.contains(f) { try? fm.removeItem(at: u.appendingPathComponent(f)) }
                parts[id] = ps
            }
        }
    }

    // MARK: Paths

    private func bucketDir(_ b: String) -> URL { root.appendingPathComponent(b, isDirectory: true) }
    private func objectsDir(_ b: String) -> URL { bucketDir(b).appendingPathComponent("objects", isDirectory: true) }
    private func uploadDir(_ info: S3UploadInfo) -> URL {
        bucketDir(info.bucket).appendingPathComponent("uploads/\(info.uploadId)", isDirectory: true)
    }
    static func keyHash(_ key: String) -> String { Digest.sha256(Data(key.utf8)).hexString }

    nonisolated func temporaryFile() -> URL { tmp.appendingPathComponent(UUID().uuidString) }

    private func writeJSON(_ value: some Encodable, to url: URL) throws {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(value).write(to: url, options: .atomic)
    }

    // MARK: Buckets

    func bucketNames() -> [S3BucketInfo] { buckets.values.sorted { $0.name < $1.name } }
    func bucketExists(_ b: String) -> Bool { buckets[b] != nil }

    func requireBucket(_ b: String) throws {
        guard buckets[b] != nil else {
            throw ServiceError(.notFound, "NoSuchBucket", "The specified bucket does not exist", s3Extra: [("BucketName", b)])
        }
    }

    func createBucket(_ b: String) throws {
        guard Self.isValidBucketName(b) else {
            throw ServiceError(.badRequest, "InvalidBucketName", "The specified bucket is not valid.", s3Extra: [("BucketName", b)])
        }
        if buckets[b] != nil {
            throw ServiceError(
                .conflict, "BucketAlreadyOwnedByYou",
                "Your previous request to create the named bucket succeeded and you already own it.", s3Extra: [("BucketName", b)])
        }
        let info = S3BucketInfo(name: b, created: Date())
        try FileManager.default.createDirectory(at: objectsDir(b), withIntermediateDirectories: true)
        try writeJSON(info, to: bucketDir(b).appendingPathComponent("bucket.json"))
        buckets[b] = info
        objects[b] = [:]
    }

    func deleteBucket(_ b: String) throws {
        try requireBucket(b)
        if !(objects[b] ?? [:]).isEmpty || uploads.values.contains(where: { $0.bucket == b }) {
            throw ServiceError(.conflict, "BucketNotEmpty", "The bucket you tried to delete is not empty", s3Extra: [("BucketName", b)])
        }
        try FileManager.default.removeItem(at: bucketDir(b))
        buckets[b] = nil
        objects[b] = nil
    }

    static func isValidBucketName(_ b: String) -> Bool {
        guard (3...63).contains(b.count), let f = b.first, let l = b.last else { return false }
        let ok = b.allSatisfy { ($0 >= "a" && $0 <= "z") || ($0 >= "0" && $0 <= "9") || $0 == "-" || $0 == "." }
        return ok && (f.isLetter || f.isNumber) && (l.isLetter || l.isNumber) && !b.contains("..")
    }

    // MARK: Objects

    func object(_ b: String, _ key: String) throws -> (S3ObjectMeta, [(url: URL, size: UInt64)]) {
        try requireBucket(b)
        guard let m = objects[b]?[key] else {
            throw ServiceError(.notFound, "NoSuchKey", "The specified key does not exist.", s3Extra: [("Key", key)])
        }
        return (m, m.pieces.map { (objectsDir(b).appendingPathComponent($0.file), $0.size) })
    }

    /// The object's bytes as one file (for mounting into an endpoint). A multipart object kept as its parts is
    /// joined into one file once, the first time this is asked for; the metadata then names that file.
    func singleFile(_ b: String, _ key: String) throws -> URL {
        let (m, pieces) = try object(b, key)
        guard m.segments != nil else { return pieces[0].url }
        let h = Self.keyHash(key)
        let dir = objectsDir(b)
        let dataName = "\(h)-\(UUID().uuidString.prefix(8)).data"
        let joined = try Self.concatenate(pieces.map(\.url), into: tmp.appendingPathComponent(UUID().uuidString))
        try FileManager.default.moveItem(at: joined, to: dir.appendingPathComponent(dataName))
        var single = m
        single.file = dataName
        single.segments = nil
        try writeJSON(single, to: dir.appendingPathComponent("\(h).json"))
        for p in m.pieces { try? FileManager.default.removeItem(at: dir.appendingPathComponent(p.file)) }
        objects[b]?[key] = single
        return dir.appendingPathComponent(dataName)
    }

    /// Every object of a bucket, sorted by key.
    func list(_ b: String) throws -> [S3ObjectMeta] {
        try requireBucket(b)
        return (objects[b] ?? [:]).values.sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
    }

    // MARK: Tagging

    func objectTags(_ b: String, _ key: String) throws -> [String: String] { try object(b, key).0.tags ?? [:] }

    func setObjectTags(_ b: String, _ key: String, _ tags: [String: String]) throws {
        var (m, _) = try object(b, key)
        m.tags = tags.isEmpty ? nil : tags
        try writeJSON(m, to: objectsDir(b).appendingPathComponent("\(Self.keyHash(key)).json"))
        objects[b]?[key] = m
    }

    func bucketTags(_ b: String) throws -> [String: String] {
        try requireBucket(b)
        return buckets[b]?.tags ?? [:]
    }

    func setBucketTags(_ b: String, _ tags: [String: String]) throws {
        try requireBucket(b)
        buckets[b]?.tags = tags.isEmpty ? nil : tags
        try writeJSON(buckets[b]!, to: bucketDir(b).appendingPathComponent("bucket.json"))
    }

    @discardableResult
    func putObject(
        _ b: String, key: String, file: ReceivedFile, etag: String? = nil, contentType: String?, metadata: [String: String],
        tags: [String: String]? = nil
    ) throws -> S3ObjectMeta {
        try requireBucket(b)
        let h = Self.keyHash(key)
        let dataName = "\(h)-\(UUID().uuidString.prefix(8)).data"
        let dir = objectsDir(b)
        try FileManager.default.moveItem(at: file.url, to: dir.appendingPathComponent(dataName))
        let meta = S3ObjectMeta(
            key: key, size: file.size, etag: etag ?? file.md5.hexString, lastModified: Date(), contentType: contentType,
            metadata: metadata, file: dataName, tags: tags, checksum: file.checksum.map { StoredChecksum($0.algorithm, digest: $0.digest) })
        try commit(meta, in: b)
        return meta
    }

    /// Writes `meta` as the object of its key (the commit point), then removes the data of the object it replaces.
    private func commit(_ meta: S3ObjectMeta, in b: String) throws {
        let dir = objectsDir(b)
        try writeJSON(meta, to: dir.appendingPathComponent("\(Self.keyHash(meta.key)).json"))
        if let old = objects[b]?[meta.key] {
            let kept = Set(meta.pieces.map(\.file))
            for p in old.pieces where !kept.contains(p.file) { try? FileManager.default.removeItem(at: dir.appendingPathComponent(p.file)) }
        }
        objects[b, default: [:]][meta.key] = meta
    }

    /// CopyObject: the new object shares the source's bytes (its data files are hard-linked, never copied) and
    /// takes `edit`'s changes to the metadata.
    func copyObject(
        from source: (bucket: String, key: String), to b: String, key: String, edit: (inout S3ObjectMeta) -> Void
    ) throws -> S3ObjectMeta {
        try requireBucket(b)
        var (meta, pieces) = try object(source.bucket, source.key)
        let stem = "\(Self.keyHash(key))-\(UUID().uuidString.prefix(8))"
        var segments: [S3Segment] = []
        do {
            for (i, p) in pieces.enumerated() {
                let name = pieces.count == 1 ? "\(stem).data" : "\(stem)-s\(i + 1).data"
                try Self.link(p.url, to: objectsDir(b).appendingPathComponent(name))
                segments.append(S3Segment(file: name, size: p.size))
            }
            meta.key = key
            meta.file = segments[0].file
            meta.segments = meta.segments == nil ? nil : segments
            meta.lastModified = Date()
            edit(&meta)
            try commit(meta, in: b)
            return meta
        } catch {
            for s in segments { try? FileManager.default.removeItem(at: objectsDir(b).appendingPathComponent(s.file)) }
            throw error
        }
    }

    /// Hard-links `file` at `to` (data files are never changed once written, so a link is a copy).
    private static func link(_ file: URL, to: URL) throws {
        guard Foundation.link(file.path, to.path) == 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not link \(file.path) to \(to.path) (errno \(errno)).")
        }
    }

    /// Deletes a key; a missing key is not an error (as in S3).
    func deleteObject(_ b: String, key: String) throws {
        try requireBucket(b)
        guard let old = objects[b]?[key] else { return }
        let dir = objectsDir(b)
        try? FileManager.default.removeItem(at: dir.appendingPathComponent("\(Self.keyHash(key)).json"))
        removeData(of: old, in: dir)
        objects[b]?[key] = nil
    }

    private func removeData(of meta: S3ObjectMeta?, in dir: URL) {
        for p in meta?.pieces ?? [] { try? FileManager.default.removeItem(at: dir.appendingPathComponent(p.file)) }
    }

    func objectCount(_ b: String) -> Int { objects[b]?.count ?? 0 }

    // MARK: Multipart

    func createUpload(
        _ b: String, key: String, contentType: String?, metadata: [String: String], tags: [String: String]? = nil,
        checksum: (algorithm: ChecksumAlgorithm, type: ChecksumType)? = nil
    ) throws -> String {
        try requireBucket(b)
        let id = Digest.randomBytes(24).hexString
        let info = S3UploadInfo(
            bucket: b, key: key, uploadId: id, created: Date(), contentType: contentType, metadata: metadata, tags: tags,
            checksumAlgorithmName: checksum?.algorithm.rawValue, checksumType: checksum?.type)
        try FileManager.default.createDirectory(at: uploadDir(info), withIntermediateDirectories: true)
        try writeJSON(info, to: uploadDir(info).appendingPathComponent("upload.json"))
        uploads[id] = info
        parts[id] = [:]
        return id
    }

    func upload(_ b: String, key: String, id: String) throws -> S3UploadInfo {
        try requireBucket(b)
        guard let u = uploads[id], u.bucket == b, u.key == key else {
            throw ServiceError(
                .notFound, "NoSuchUpload",
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
                s3Extra: [("UploadId", id)])
        }
        return u
    }

    func putPart(_ b: String, key: String, id: String, number: Int, file: ReceivedFile) throws -> S3PartInfo {
        let u = try upload(b, key: key, id: id)
        guard (1...10_000).contains(number) else {
            throw ServiceError(.badRequest, "InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive")
        }
        let dir = uploadDir(u)
        let name = "part-\(number)-\(UUID().uuidString.prefix(8)).data"
        try FileManager.default.moveItem(at: file.url, to: dir.appendingPathComponent(name))
        let p = S3PartInfo(
            number: number, etag: file.md5.hexString, size: file.size, file: name, lastModified: Date(),
            checksum: file.checksum.map { StoredChecksum($0.algorithm, digest: $0.digest) })
        try writeJSON(p, to: dir.appendingPathComponent("part-\(number).json"))
        if let old = parts[id]?[number] { try? FileManager.default.removeItem(at: dir.appendingPathComponent(old.file)) }
        parts[id, default: [:]][number] = p
        return p
    }

    func listParts(_ b: String, key: String, id: String) throws -> (S3UploadInfo, [S3PartInfo]) {
        let u = try upload(b, key: key, id: id)
        return (u, (parts[id] ?? [:]).values.sorted { $0.number < $1.number })
    }

    func abortUpload(_ b: String, key: String, id: String) throws {
        let u = try upload(b, key: key, id: id)
        try? FileManager.default.removeItem(at: uploadDir(u))
        uploads[id] = nil
        parts[id] = nil
    }

    func listUploads(_ b: String) throws -> [S3UploadInfo] {
        try requireBucket(b)
        return uploads.values.filter { $0.bucket == b }.sorted { ($0.key, $0.uploadId) < ($1.key, $1.uploadId) }
    }

    /// Completes an upload: validates the part list (order, ETags, sizes), then makes the parts the object's
    /// bytes without copying them. The part files are hard-linked into the bucket and committed by writing the
    /// object's metadata; only then is the upload removed, so a crash at any point leaves either the upload
    /// (complete it again) or the object.
    /// One part as CompleteMultipartUpload lists it: number, ETag and, when the client sends it, its checksum.
    struct RequestedPart: Sendable {
        var number: Int
        var etag: String
        var checksum: String?
    }

    func completeUpload(
        _ b: String, key: String, id: String, requested: [RequestedPart], declared: StoredChecksum? = nil
    ) throws -> S3ObjectMeta {
        let u = try upload(b, key: key, id: id)
        guard !requested.isEmpty else {
            throw ServiceError(.badRequest, "MalformedXML", "The XML you provided was not well-formed or did not validate against our published schema")
        }
        var last = 0
        var chosen: [S3PartInfo] = []
        var md5s: [UInt8] = []
        var total: UInt64 = 0
        for (i, r) in requested.enumerated() {
            guard r.number > last else {
                throw ServiceError(.badRequest, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number.")
            }
            last = r.number
            let want = r.etag.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            guard let p = parts[id]?[r.number], p.etag == want, r.checksum == nil || r.checksum == p.checksum?.value else {
                throw ServiceError(
                    .badRequest, "InvalidPart",
                    "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                    s3Extra: [("UploadId", id), ("PartNumber", String(r.number))])
            }
            if i < requested.count - 1 && p.size < 5 << 20 {
                throw ServiceError(
                    .badRequest, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed object size.",
                    s3Extra: [("ProposedSize", String(p.size)), ("MinSizeAllowed", String(5 << 20)), ("PartNumber", String(r.number))])
            }
            chosen.append(p)
            md5s += hexBytes(p.etag)
            total += p.size
        }
        let checksum = try Self.objectChecksum(u, chosen, declared: declared)
        let etag = "\(Digest.md5(md5s).hexString)-\(requested.count)"
        let dir = objectsDir(b)
        let stem = "\(Self.keyHash(key))-\(UUID().uuidString.prefix(8))"
        var segments: [S3Segment] = []
        do {
            for p in chosen {
                let name = "\(stem)-p\(p.number).data"
                try Self.link(uploadDir(u).appendingPathComponent(p.file), to: dir.appendingPathComponent(name))
                segments.append(S3Segment(file: name, size: p.size))
            }
            let meta = S3ObjectMeta(
                key: key, size: total, etag: etag, lastModified: Date(), contentType: u.contentType, metadata: u.metadata,
                file: segments[0].file, tags: u.tags, segments: segments.count > 1 ? segments : nil, checksum: checksum,
                parts: chosen.map { S3ObjectPart(number: $0.number, size: $0.size, checksum: $0.checksum?.value) })
            try commit(meta, in: b)
            try? FileManager.default.removeItem(at: uploadDir(u))
            uploads[id] = nil
            parts[id] = nil
            return meta
        } catch {
            for s in segments { try? FileManager.default.removeItem(at: dir.appendingPathComponent(s.file)) }
            throw error
        }
    }

    /// The checksum of an object completed from `parts`, of the upload's algorithm (else of the one its parts have):
    /// COMPOSITE, the checksum of the parts' digests followed by `-<parts>`, or FULL_OBJECT, the parts' CRCs combined
    /// into the whole object's (CRC64NVME's default, and what a declared whole-object value asks for). None when
    /// some part has no checksum of that algorithm.
    /// - Throws: `BadDigest` when `declared` (the client's whole-object value) differs; `InvalidRequest` for a
    ///   FULL_OBJECT SHA checksum.
    static func objectChecksum(_ u: S3UploadInfo, _ parts: [S3PartInfo], declared: StoredChecksum?) throws -> StoredChecksum? {
        guard let algorithm = u.checksumAlgorithm ?? declared?.algorithm ?? parts.first?.checksum?.algorithm else { return nil }
        let digests = parts.compactMap { p in p.checksum.flatMap { $0.algorithm == algorithm ? $0.digest : nil } }
        guard digests.count == parts.count, let first = digests.first else { return nil }
        let type = u.checksumType ?? declared?.type ?? (algorithm == .crc64nvme ? .fullObject : .composite)
        let value: String
        switch type {
        case .composite:
            value = CRCCombine.composite(algorithm, partDigests: digests)
        case .fullObject:
            guard algorithm.isCRC else { throw S3Checksums.fullObjectNeedsCRC(algorithm) }
            var combined = first
            for (digest, part) in zip(digests.dropFirst(), parts.dropFirst()) {
                combined = CRCCombine.combine(algorithm, combined, digest, secondLength: part.size)
            }
            value = combined.base64String
        }
        if let declared, declared.algorithm != algorithm || declared.value != value {
            throw S3Checksums.badDigest(declared.algorithm)
        }
        return StoredChecksum(algorithm: algorithm, value: value, type: type)
    }

    /// Joins files into `out` with `sendfile` (the bytes stay in the kernel), falling back to read/write where
    /// the kernel refuses.
    static func concatenate(_ files: [URL], into out: URL) throws -> URL {
        let w = open(out.path, O_CREAT | O_WRONLY | O_TRUNC, 0o644)
        guard w >= 0 else {
            throw ServiceError(.internalServerError, "InternalError", "The local cloud could not create \(out.path) (errno \(errno)).")
        }
        defer { close(w) }
        var buffer: [UInt8] = []
        func fail(_ what: String) -> ServiceError {
            ServiceError(.internalServerError, "InternalError", "The local cloud could not \(what) (errno \(errno)); is the disk full?")
        }
        for f in files {
            let r = open(f.path, O_RDONLY)
            guard r >= 0 else {
                throw ServiceError(.internalServerError, "InternalError", "A data file is missing: \(f.path).")
            }
            defer { close(r) }
            var useCopy = true
            while true {
                if useCopy {
                    let n = sendfile(w, r, nil, 1 << 30)
                    if n > 0 { continue }
                    if n == 0 { break }
                    if errno == EINTR { continue }
                    guard errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP else {
                        throw fail("join the parts of \(out.lastPathComponent)")
                    }
                    useCopy = false
                }
                if buffer.isEmpty { buffer = [UInt8](repeating: 0, count: 1 << 20) }
                let n = buffer.withUnsafeMutableBytes { read(r, $0.baseAddress!, $0.count) }
                if n < 0 { if errno == EINTR { continue }; throw fail("read \(f.path)") }
                if n == 0 { break }
                var off = 0
                while off < n {
                    let m = buffer.withUnsafeBytes { write(w, $0.baseAddress! + off, n - off) }
                    if m < 0 { if errno == EINTR { continue }; throw fail("write \(out.path)") }
                    off += m
                }
            }
        }
        return out
    }

    private func hexBytes(_ hex: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = hex.utf8.makeIterator()
        while let a = it.next(), let b = it.next() {
            func v(_ c: UInt8) -> UInt8 { c <= 57 ? c - 48 : (c | 0x20) - 87 }
            out.append(v(a) << 4 | v(b))
        }
        return out
    }
}

extension S3Store {
    /// Objects under `prefix` with the files holding their bytes (for mounting model data into endpoints).
    func objects(_ b: String, prefix: String) throws -> [(key: String, url: URL, size: UInt64)] {
        var out: [(key: String, url: URL, size: UInt64)] = []
        for m in try list(b) where m.key.hasPrefix(prefix) { out.append((m.key, try singleFile(b, m.key), m.size)) }
        return out
    }
}
