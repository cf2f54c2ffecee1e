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
    static let configuration = StepKindConfiguration(
        name: "hf.snapshot", version: 1, category: .pure,
        summary: "Download a Hugging Face Hub repo snapshot (like huggingface_hub.snapshot_download) into the shared cache.")

    struct Inputs: StepInputs {
        @Input("the model repository, org/name, or a local folder (/…, ./…, ../…, ~/…)") var repoId: String
        @Input(default: "main", "branch, tag or commit sha") var revision: String
        @Input("only files matching one of these globs (fnmatch; * crosses /)") var allowPatterns: [Value]?
        @Input("leave out files matching these globs") var ignorePatterns: [Value]?
        @Input("access token for gated or private repos (use ${{ secrets.hf_token }}; default HF_TOKEN)") var token: String?
        @Input(
            role: .outputPath,
            "also copy the files into this folder (relative to the recipe's work folder, and inside it); path then points there")
        var localDir: String?
        @Input("the Hub cache (default HF_HUB_CACHE, else $HF_HOME/hub)") var cacheDir: String?
        @Input(default: 8, "files downloaded in parallel") var maxWorkers: Int
    }

    struct Outputs: StepOutputs {
        @Output(.path, "the snapshot folder (…/snapshots/<commit>, or local_dir)") var path: String
        @Output("the commit sha the revision resolved to") var commit: String
        @Output("repo-relative paths of the selected files") var files: [Value]
        @Output("total size of the selected files") var totalBytes: Int
    }

    func planDetails(_ inputs: Inputs) -> [String] { ["\(inputs.repoId)@\(inputs.revision)"] }

    static func request(_ inputs: Inputs, env: [String: String], localDir: String?) throws -> HubSnapshotRequest {
        guard !inputs.repoId.isEmpty else { throw StepError("input 'repo_id' is missing") }
        let token = inputs.token.flatMap { $0.isEmpty ? nil : $0 } ?? HubEnvironment.token(env: env)
        let cache = inputs.cacheDir.flatMap { $0.isEmpty ? nil : $0 } ?? HubEnvironment.cacheDir(env: env)
        return HubSnapshotRequest(
            repoID: HubClient.localFolderPath(inputs.repoId, env: env) ?? inputs.repoId, revision: inputs.revision,
            allowPatterns: inputs.allowPatterns.map { $0.compactMap(\.stringValue) },
            ignorePatterns: inputs.ignorePatterns.map { $0.compactMap(\.stringValue) }, token: token, cacheDir: cache, localDir: localDir,
            maxWorkers: max(1, inputs.maxWorkers), offline: HubEnvironment.isOffline(env: env))
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let localDir = try inputs.localDir.flatMap { $0.isEmpty ? nil : try ctx.confinedPath($0) }
        let req = try Self.request(inputs, env: ctx.environment, localDir: localDir)
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
        var outputs = Outputs()
        outputs.path = snap.path
        outputs.commit = snap.commit
        outputs.files = snap.files.map(Value.string)
        outputs.totalBytes = Int(snap.totalBytes)
        return outputs
    }

    func validate(_ outputs: Outputs, inputs: Inputs, ctx: StepContext) async -> OutputCheck {
        let recorded = outputs.commit
        let revision = inputs.revision
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
