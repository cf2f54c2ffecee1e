import Foundation
import Synchronization
import SousRecipe

/// Writes a run's record: `record.md` (reads like an executed notebook), `record.html` (the same as a
/// self-contained page, with the resources created and a chart of each streamed answer), `record.json`,
/// and one log file per step, under `runs/<run-id>/`. Rewritten after every step, so a killed run still
/// leaves a record of what finished. Everything written here is redacted.
final class RunRecorder: @unchecked Sendable {
    // @unchecked: used only from the engine's run loop, one step at a time.
    struct Entry: Codable {
        var step: String
        var kind: String
        var status: String
        var reason: String
        var duration: Double?
        var inputs: ValueMap?
        var outputs: ValueMap?
        var error: String?
        var transcript: String?
        /// The step's `name:` in the recipe.
        var title: String?
        /// A file the step wrote that the page shows (`serving.properties`), read when recorded.
        var file: RecordedFile?
        /// The step's log, relative to the run folder.
        var log: String?
    }

    /// A file shown in the record, read (and redacted) when its step was recorded.
    struct RecordedFile: Codable {
        var path: String
        var text: String
        /// Only the first `RunRecorder.fileLimit` bytes are kept.
        var truncated: Bool
    }

    /// Files a step writes that the page shows in its cell, by name.
    static let shownFiles: Set<String> = ["serving.properties"]
    static let fileLimit = 64 << 10

    let dir: String
    let runID: String
    let recipe: Recipe
    let ledger: ResourceLedger
    let cloud: String?
    let started = Date()
    var entries: [Entry] = []
    var status = "running"
    var error: String?
    /// The latest redactor the engine handed over (secrets read later add to it).
    private var redactor: Redactor

    init(layout: WorkspaceLayout, runID: String, recipe: Recipe, ledger: ResourceLedger, environment: [String: String], redactor: Redactor) {
        self.dir = layout.runsDir + "/" + runID
        self.runID = runID
        self.recipe = recipe
        self.ledger = ledger
        self.redactor = redactor
        self.cloud = Self.cloud(environment).map(redactor.redact)
        try? FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        save()
    }

    func skipped(_ step: StepSpec, reason: String, inputs: ValueMap? = nil, outputs: ValueMap? = nil, redactor: Redactor) {
        self.redactor = redactor
        var e = Entry(step: step.id, kind: step.uses, status: "skipped", reason: reason, inputs: inputs, outputs: outputs, title: step.title)
        e.file = shownFile(outputs)
        entries.append(e)
        save()
    }

    func ran(_ step: StepSpec, inputs: ValueMap, reason: String, duration: Double, outputs: ValueMap, ctx: StepContext) {
        redactor = ctx.redactor
        let transcript = ctx.transcript
        var e = Entry(
            step: step.id, kind: step.uses, status: "ran", reason: reason, duration: duration, inputs: inputs, outputs: outputs,
            transcript: transcript.isEmpty ? nil : transcript, title: step.title)
        e.file = shownFile(outputs)
        e.log = writeLog(step.id, ctx)
        entries.append(e)
        save()
    }

    func failed(_ step: StepSpec, inputs: ValueMap?, reason: String, duration: Double, error: String, ctx: StepContext?, redactor: Redactor) {
        self.redactor = redactor
        let transcript = ctx?.transcript
        var e = Entry(
            step: step.id, kind: step.uses, status: "failed", reason: reason, duration: duration, inputs: inputs, error: error,
            transcript: transcript?.isEmpty == false ? transcript : nil, title: step.title)
        if let ctx { e.log = writeLog(step.id, ctx) }
        entries.append(e)
        save()
    }

    func finish(status: RunStatus, error: String?, redactor: Redactor) {
        self.redactor = redactor
        self.status = status.rawValue
        self.error = error.map(redactor.redact)
        save()
    }

    /// Where the run's AWS calls go: a loopback endpoint (the local cloud), another endpoint, or AWS.
    static func cloud(_ environment: [String: String]) -> String? {
        let overrides = ["AWS_ENDPOINT_URL_SAGEMAKER", "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        if let url = overrides.lazy.compactMap({ environment[$0] }).first(where: { !$0.isEmpty }) {
            let host = URL(string: url)?.host ?? ""
            return ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host) ? "local (\(url))" : "endpoint \(url)"
        }
        guard let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"], !region.isEmpty else { return nil }
        return "AWS (\(region))"
    }

    /// The file a step wrote, when the page shows it: its `path` output names a file in `shownFiles`.
    private func shownFile(_ outputs: ValueMap?) -> RecordedFile? {
        guard let path = outputs?["path"]?.stringValue, Self.shownFiles.contains((path as NSString).lastPathComponent),
            let handle = FileHandle(forReadingAtPath: path)
        else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.read(upToCount: Self.fileLimit + 1) else { return nil }
        let truncated = data.count > Self.fileLimit
        let text = String(decoding: data.prefix(Self.fileLimit), as: UTF8.self)
        return RecordedFile(path: path, text: redactor.redact(text), truncated: truncated)
    }

    /// Writes the step's log file; returns its path relative to the run folder.
    private func writeLog(_ step: String, _ ctx: StepContext) -> String {
        let lines = ctx.logLines.withLock { $0 }
        let transcript = ctx.transcript
        var text = lines.joined(separator: "\n")
        if !transcript.isEmpty { text += (text.isEmpty ? "" : "\n") + "--- output ---\n" + transcript }
        // Each line was redacted as it came; the whole text is again before it is written.
        try? writeAtomically(Data((ctx.redact(text) + "\n").utf8), to: dir + "/logs/\(step).log", durable: false)
        return "logs/\(step).log"
    }

    private func save() {
        var doc = ValueMap()
        doc["format"] = .int(1)
        doc["run_id"] = .string(runID)
        doc["recipe"] = .string(recipe.name)
        doc["recipe_path"] = .string(recipe.path)
        doc["started_at"] = .string(ISO8601DateFormatter().string(from: started))
        doc["status"] = .string(status)
        if let error { doc["error"] = .string(error) }
        doc["steps"] = .list(entries.map { e in
            var m = ValueMap()
            m["id"] = .string(e.step)
            m["kind"] = .string(e.kind)
            m["status"] = .string(e.status)
            m["reason"] = .string(e.reason)
            if let d = e.duration { m["duration_s"] = .number((d * 1000).rounded() / 1000) }
            if let i = e.inputs { m["inputs"] = .map(i) }
            if let o = e.outputs { m["outputs"] = .map(o) }
            if let err = e.error { m["error"] = .string(err) }
            if let t = e.transcript { m["transcript"] = .string(t) }
            return .map(m)
        })
        try? writeAtomically(Data(Value.map(doc).jsonString(pretty: true).utf8), to: dir + "/record.json", durable: false)
        try? writeAtomically(Data(markdown().utf8), to: dir + "/record.md", durable: false)
        try? writeAtomically(Data(runRecordHTML(page()).utf8), to: dir + "/record.html", durable: false)
    }

    /// The page's data: the entries, and the resources this run created or deleted (from the ledger).
    private func page() -> RunRecordPage {
        let resources = ledger.entries.compactMap { e -> RunRecordPage.Resource? in
            let mine = e.runID == runID
            guard mine || (e.state == .deleted && e.at >= started) else { return nil }
            return RunRecordPage.Resource(
                type: e.type, name: redactor.redact(e.name), arn: e.attributes["arn"]?.stringValue.map(redactor.redact),
                step: e.step, state: e.state, createdInRun: mine)
        }
        return RunRecordPage(
            recipe: recipe.name, recipePath: redactor.redact(recipe.path), runID: runID, status: status, started: started,
            duration: Date().timeIntervalSince(started), cloud: cloud, error: error, steps: entries, resources: resources)
    }

    private func markdown() -> String {
        var md = "# \(recipe.name) — run \(runID)\n\n"
        md += "- recipe: `\(recipe.path)`\n- started: \(ISO8601DateFormatter().string(from: started))\n- status: **\(status)**\n"
        if let error { md += "- error: \(error)\n" }
        for (i, e) in entries.enumerated() {
            md += "\n## [\(i + 1)] \(e.step) — `\(e.kind)` — \(e.status)"
            if let d = e.duration { md += String(format: " (%.2f s)", d) }
            md += "\n\n*Why:* \(e.reason)\n"
            if let inputs = e.inputs, !inputs.isEmpty {
                md += "\n**Inputs**\n\n"
                for x in inputs { md += "- `\(x.key)`: `\(short(x.value))`\n" }
            }
            if let t = e.transcript {
                md += "\n**Output**\n\n```text\n\(t)\(t.hasSuffix("\n") ? "" : "\n")```\n"
            }
            if let outputs = e.outputs, !outputs.isEmpty {
                md += "\n**Outputs**\n\n"
                for x in outputs { md += "- `\(x.key)`: `\(short(x.value))`\n" }
            }
            if let err = e.error { md += "\n**Error**\n\n```text\n\(err)\n```\n" }
        }
        return md
    }

    private func short(_ v: Value) -> String {
        let s = v.stringValue ?? v.jsonString()
        let flat = s.replacingOccurrences(of: "\n", with: "⏎").replacingOccurrences(of: "`", with: "'")
        return flat.count > 200 ? String(flat.prefix(197)) + "…" : flat
    }
}
