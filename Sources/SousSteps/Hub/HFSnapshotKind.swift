import Foundation
import SousEngine
import SousHub
import SousRecipe

/// `hf.snapshot`: `huggingface_hub.snapshot_download` into the shared Hugging Face cache.
///
/// Caching: the engine's fingerprint covers the inputs (the revision as written, e.g. `main`), not the
/// commit it points to. So `validate` re-resolves the revision on every run and plan — one small Hub API
/// call, none when the revision is already a commit sha — and the step reruns when the branch or tag moved
/// ("revision 'main' moved: 1a2b… → 3c4d…"). Offline (`HF_HUB_OFFLINE=1`) the cache's `refs/` are read
/// instead. The `path` output holds the commit (`…/snapshots/<sha>`), so downstream steps (uploads) follow.
///
/// A `repo_id` that is a local folder (`/…`, `./…`, `../…`, `~/…`) is taken into the same cache without the
/// Hub (`models--local--<name>`, commit = digest of the folder's manifest; see docs/hub.md); `validate` then
/// hashes the selected files again and reruns the step when the commit differs ("local folder … changed").
struct HFSnapshotKind: StepKind {
    let schema = StepKindSchema(
        kind: "hf.snapshot", version: 1, category: .pure,
        summary: "Download a Hugging Face Hub repo snapshot (like huggingface_hub.snapshot_download) into the shared cache.",
        inputs: [
            InputSpec("repo_id", .string, required: true, "the model repository, org/name, or a local folder (/…, ./…, ../…, ~/…)"),
            InputSpec("revision", .string, default: .string("main"), "branch, tag or commit sha"),
            InputSpec("allow_patterns", .list, "only files matching one of these globs (fnmatch; * crosses /)"),
            InputSpec("ignore_patterns", .list, "leave out files matching these globs"),
            InputSpec("token", .string, "access token for gated or private repos (use ${{ secrets.hf_token }}; default HF_TOKEN)"),
            InputSpec("local_dir", .string, role: .outputPath, "also copy the files into this folder (relative to the recipe's work folder, and inside it); path then points there"),
            InputSpec("cache_dir", .string, "the Hub cache (default HF_HUB_CACHE, else $HF_HOME/hub)"),
            InputSpec("max_workers", .int, default: .int(8), "files downloaded in parallel"),
        ],
        outputs: [
            OutputSpec("path", .path, "the snapshot folder (…/snapshots/<commit>, or local_dir)"),
            OutputSpec("commit", .string, "the commit sha the revision resolved to"),
            OutputSpec("files", .list, "repo-relative paths of the selected files"),
            OutputSpec("total_bytes", .int, "total size of the selected files"),
        ])

    func planDetails(inputs: ValueMap) -> [String] {
        ["\(inputs["repo_id"]?.stringValue ?? "?")@\(inputs["revision"]?.stringValue ?? "main")"]
    }

    static func patterns(_ v: Value?) -> [String]? {
        guard let l = v?.listValue else { return nil }
        return l.compactMap { $0.stringValue }
    }

    static func request(_ inputs: ValueMap, env: [String: String], localDir: String?) throws -> HubSnapshotRequest {
        guard let repo = inputs["repo_id"]?.stringValue, !repo.isEmpty else { throw StepError("input 'repo_id' is missing") }
        let token = inputs["token"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? HubEnvironment.token(env: env)
        let cache = inputs["cache_dir"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? HubEnvironment.cacheDir(env: env)
        return HubSnapshotRequest(
            repoID: HubClient.localFolderPath(repo, env: env) ?? repo, revision: inputs["revision"]?.stringValue ?? "main",
            allowPatterns: patterns(inputs["allow_patterns"]), ignorePatterns: patterns(inputs["ignore_patterns"]), token: token,
            cacheDir: cache, localDir: localDir, maxWorkers: max(1, inputs["max_workers"]?.intValue ?? 8),
            offline: HubEnvironment.isOffline(env: env))
    }

    func run(_ ctx: StepContext) async throws -> ValueMap {
        let localDir = try ctx.optionalString("local_dir").flatMap { $0.isEmpty ? nil : try ctx.confinedPath($0) }
        let req = try Self.request(ctx.inputs, env: ctx.environment, localDir: localDir)
        let client = HubClient(endpoint: HubEnvironment.endpoint(env: ctx.environment))
        let snap = try await client.snapshot(req) { p in
            let rate = String(format: "%.1f", p.bytesPerSecond / 1_048_576)
            let eta = p.eta.map { ", eta \(Int($0.components.seconds)) s" } ?? ""
            ctx.progress("\(p.filesDone)/\(p.filesTotal) files, \(p.bytesDone >> 20)/\(p.bytesTotal >> 20) MiB, \(rate) MiB/s\(eta)")
        }
        for w in snap.warnings { ctx.warn(w) }
        if let folder = snap.localFolder {
            ctx.log("\(folder) = \(snap.commit): \(snap.files.count) files, \(snap.totalBytes) bytes (taken from a local folder) in \(snap.path)")
        } else {
            ctx.log("\(req.repoID)@\(req.revision) = \(snap.commit): \(snap.files.count) files, \(snap.totalBytes) bytes (\(snap.downloadedBytes) downloaded) in \(snap.path)")
        }
        return [
            "path": .string(snap.path), "commit": .string(snap.commit), "files": .list(snap.files.map(Value.string)),
            "total_bytes": .int(Int(snap.totalBytes)),
        ]
    }

    func validate(outputs: ValueMap, inputs: ValueMap, ctx: StepContext) async -> OutputCheck {
        guard let recorded = outputs["commit"]?.stringValue else { return .invalid("no commit recorded") }
        let revision = inputs["revision"]?.stringValue ?? "main"
        let req: HubSnapshotRequest
        do { req = try Self.request(inputs, env: ctx.environment, localDir: nil) } catch { return .invalid("\(error)") }
        do {
            // A local folder: its manifest's digest now against the recorded commit (nil for a Hub id).
            if let now = try HubClient.localFolderCommit(req) {
                return now == recorded ? .valid : .invalid("local folder \(req.repoID) changed: \(recorded.prefix(12)) → \(now.prefix(12))")
            }
        } catch {
            return .invalid("could not check the local folder \(req.repoID) (\(error))")
        }
        if revision.count == 40, revision.allSatisfy(\.isHexDigit) { return revision == recorded ? .valid : .invalid("revision changed") }
        do {
            let client = HubClient(endpoint: HubEnvironment.endpoint(env: ctx.environment))
            let now: String
            if req.offline {
                now = try await client.snapshot(req).commit
            } else {
                now = try await client.resolveCommit(repoID: req.repoID, revision: revision, token: req.token)
            }
            return now == recorded ? .valid : .invalid("revision '\(revision)' moved: \(recorded.prefix(12)) → \(now.prefix(12))")
        } catch let e as HubError where e.kind == .unreachable {
            // No network: the recorded snapshot is still what the cache holds.
            ctx.warn("could not reach the Hub to check '\(revision)' (\(e.detail)); using the recorded snapshot")
            return .valid
        } catch {
            return .invalid("could not check revision '\(revision)' (\(error))")
        }
    }
}
