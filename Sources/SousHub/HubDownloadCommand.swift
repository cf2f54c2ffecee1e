public import Foundation

/// A ready-made command-line front end for `HubClient.snapshot` (for `sous hub download` and the benchmark).
///
/// Usage: `REPO [--revision R] [--include GLOB]... [--exclude GLOB]... [--local-dir DIR] [--cache-dir DIR]
/// [--workers N] [--offline] [--progress]`. The token comes from the environment (HF_TOKEN, HF_TOKEN_PATH,
/// $HF_HOME/token), the endpoint from HF_ENDPOINT. Prints one JSON line on stdout (`path`, `commit`, `files`,
/// `total_bytes`, `downloaded_bytes`, `seconds`, `warnings`); progress and errors go to stderr. REPO may be a
/// local folder (`/…`, `./…`, `../…`, `~/…`), taken into the cache without the Hub (see `HubClient.snapshot`).
public enum HubDownloadCommand {
    /// Runs the command; returns the process exit status (0 success, 1 download error, 2 usage error).
    public static func run(
        _ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        var request: HubSnapshotRequest
        var showProgress = false
        do {
            (request, showProgress) = try parse(arguments, environment: environment)
        } catch {
            printError("sous hub download: \(error)")
            return 2
        }
        let client = HubClient(endpoint: HubEnvironment.endpoint(env: environment))
        let start = ContinuousClock.now
        var progress: (@Sendable (HubProgress) -> Void)?
        if showProgress { progress = { @Sendable p in reportProgress(p) } }
        do {
            let snap = try await client.snapshot(request, progress: progress)
            let seconds = (ContinuousClock.now - start) / .seconds(1)
            for w in snap.warnings { printError("warning: \(w)") }
            let out: [String: Any] = [
                "path": snap.path, "commit": snap.commit, "files": snap.files, "total_bytes": snap.totalBytes,
                "downloaded_bytes": snap.downloadedBytes, "seconds": seconds, "warnings": snap.warnings,
            ]
            if let data = try? JSONSerialization.data(withJSONObject: out, options: [.sortedKeys]) {
                print(String(decoding: data, as: UTF8.self))
            }
            return 0
        } catch {
            printError("error: \(error)")
            return 1
        }
    }

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static func parse(_ args: [String], environment: [String: String]) throws -> (HubSnapshotRequest, Bool) {
        var repo: String?
        var revision = "main"
        var include: [String] = []
        var exclude: [String] = []
        var localDir: String?
        var cacheDir = HubEnvironment.cacheDir(env: environment)
        var workers = 8
        var offline = HubEnvironment.isOffline(env: environment)
        var progress = false
        var i = 0
        func value() throws -> String {
            i += 1
            guard i < args.count else { throw UsageError(description: "\(args[i - 1]) needs a value") }
            return args[i]
        }
        while i < args.count {
            switch args[i] {
            case "--revision": revision = try value()
            case "--include": include.append(try value())
            case "--exclude": exclude.append(try value())
            case "--local-dir": localDir = try value()
            case "--cache-dir": cacheDir = try value()
            case "--workers":
                guard let n = Int(try value()), n > 0 else { throw UsageError(description: "--workers needs a positive number") }
                workers = n
            case "--offline": offline = true
            case "--progress": progress = true
            default:
                if args[i].hasPrefix("-") || repo != nil { throw UsageError(description: "unexpected argument '\(args[i])'") }
                repo = args[i]
            }
            i += 1
        }
        guard let repo else { throw UsageError(description: "missing the repository id (org/name, or a local folder)") }
        let request = HubSnapshotRequest(
            repoID: repo, revision: revision, allowPatterns: include.isEmpty ? nil : include,
            ignorePatterns: exclude.isEmpty ? nil : exclude, token: HubEnvironment.token(env: environment),
            cacheDir: cacheDir, localDir: localDir, maxWorkers: workers, offline: offline)
        return (request, progress)
    }

    @Sendable private static func reportProgress(_ p: HubProgress) {
        let eta = p.eta.map { " eta \(Int($0 / .seconds(1)))s" } ?? ""
        let rate = String(format: "%.1f", p.bytesPerSecond / 1_048_576)
        printError("\(p.filesDone)/\(p.filesTotal) files, \(p.bytesDone >> 20)/\(p.bytesTotal >> 20) MiB, \(rate) MiB/s\(eta)")
    }

    private static func printError(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}
