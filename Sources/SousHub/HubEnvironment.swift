public import Foundation

/// The huggingface_hub environment variables, read the way huggingface_hub reads them.
public enum HubEnvironment {
    /// `HF_ENDPOINT` (trailing `/` removed), default `https://huggingface.co`.
    public static func endpoint(env: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        var s = nonEmpty(env["HF_ENDPOINT"]) ?? "https://huggingface.co"
        while s.hasSuffix("/") { s.removeLast() }
        return URL(string: s) ?? URL(string: "https://huggingface.co")!
    }

    /// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
    public static func home(env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let h = nonEmpty(env["HF_HOME"]) { return expand(h, env) }
        if let x = nonEmpty(env["XDG_CACHE_HOME"]) { return expand(x, env) + "/huggingface" }
        return homeDirectory(env) + "/.cache/huggingface"
    }

    /// The Hub cache: `HF_HUB_CACHE`, else legacy `HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`.
    public static func cacheDir(env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let c = nonEmpty(env["HF_HUB_CACHE"]) ?? nonEmpty(env["HUGGINGFACE_HUB_CACHE"]) { return expand(c, env) }
        return home(env: env) + "/hub"
    }

    /// The token: `HF_TOKEN`, else legacy `HUGGING_FACE_HUB_TOKEN`, else the file `HF_TOKEN_PATH`
    /// (default `$HF_HOME/token`). Nil when none is set. Never print the result.
    public static func token(env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let t = nonEmpty(env["HF_TOKEN"]) ?? nonEmpty(env["HUGGING_FACE_HUB_TOKEN"]) { return t }
        let path = nonEmpty(env["HF_TOKEN_PATH"]).map { expand($0, env) } ?? home(env: env) + "/token"
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return nonEmpty(String(decoding: data, as: UTF8.self))
    }

    /// `HF_HUB_OFFLINE` set to 1/true/yes/on.
    public static func isOffline(env: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        guard let v = env["HF_HUB_OFFLINE"]?.trimmingCharacters(in: .whitespaces).lowercased() else { return false }
        return ["1", "true", "yes", "on"].contains(v)
    }

    private static func nonEmpty(_ s: String?) -> String? {
        guard let t = s?.trimmingCharacters(in: .whitespacesAndNewlines), !t.isEmpty else { return nil }
        return t
    }

    private static func homeDirectory(_ env: [String: String]) -> String {
        nonEmpty(env["HOME"]) ?? NSHomeDirectory()
    }

    /// `~` and `~/…` with the home folder (`HOME`).
    static func expand(_ path: String, _ env: [String: String]) -> String {
        if path == "~" { return homeDirectory(env) }
        if path.hasPrefix("~/") { return homeDirectory(env) + path.dropFirst(1) }
        return path
    }
}
