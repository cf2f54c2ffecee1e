import Foundation
import Synchronization
import SousRecipe

/// Writes a run's record: `record.md` (reads like an executed notebook), `record.json`, and one
/// log file per step, under `runs/<run-id>/`. Rewritten after every step, so a killed run still
/// leaves a record of what finished. Everything written here is already redacted.
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
    }

    let dir: String
    let runID: String
    let recipe: Recipe
    let started = Date()
    var entries: [Entry] = []
    var status = "running"
    var error: String?

    init(layout: WorkspaceLayout, runID: String, recipe: Recipe) {
        self.dir = layout.runsDir + "/" + runID
        self.runID = runID
        self.recipe = recipe
        try? FileManager.default.createDirectory(atPath: dir + "/logs", withIntermediateDirectories: true)
        save()
    }

    func skipped(_ step: StepSpec, reason: String, inputs: ValueMap? = nil, outputs: ValueMap? = nil) {
        entries.append(Entry(step: step.id, kind: step.uses, status: "skipped", reason: reason, inputs: inputs, outputs: outputs))
        save()
    }

    func ran(_ step: StepSpec, inputs: ValueMap, reason: String, duration: Double, outputs: ValueMap, ctx: StepContext) {
        let transcript = ctx.transcript.withLock { $0 }
        entries.append(Entry(step: step.id, kind: step.uses, status: "ran", reason: reason, duration: duration, inputs: inputs, outputs: outputs, transcript: transcript.isEmpty ? nil : transcript))
        writeLog(step.id, ctx)
        save()
    }

    func failed(_ step: StepSpec, inputs: ValueMap?, reason: String, duration: Double, error: String, ctx: StepContext?) {
        let transcript = ctx?.transcript.withLock { $0 }
        entries.append(Entry(step: step.id, kind: step.uses, status: "failed", reason: reason, duration: duration, inputs: inputs, error: error, transcript: transcript?.isEmpty == false ? transcript : nil))
        if let ctx { writeLog(step.id, ctx) }
        save()
    }

    func finish(status: RunStatus, error: String?, redactor: Redactor) {
        self.status = status.rawValue
        self.error = error.map(redactor.redact)
        save()
    }

    private func writeLog(_ step: String, _ ctx: StepContext) {
        let lines = ctx.logLines.withLock { $0 }
        let transcript = ctx.transcript.withLock { $0 }
        var text = lines.joined(separator: "\n")
        if !transcript.isEmpty { text += (text.isEmpty ? "" : "\n") + "--- output ---\n" + transcript }
        try? writeAtomically(Data((text + "\n").utf8), to: dir + "/logs/\(step).log", durable: false)
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
