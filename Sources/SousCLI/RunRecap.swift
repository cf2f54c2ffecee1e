import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousSteps

/// The recap `sous run` prints after the last step, for people: what the run created and what
/// it removed, how fast each answer streamed, whether anything is still running (and the command
/// that removes it), and what to try next.
///
/// Built from the two files the run leaves behind — the resource ledger (compared with its state
/// before the run) and `record.json` — so it says exactly what the workspace records.
struct RunRecap {
    /// A resource this run created or deleted.
    struct Resource: Equatable {
        var type: String
        var name: String
        /// Created by this run (otherwise an earlier run created it and this one removed it).
        var createdNow: Bool
        /// Still there after the run.
        var live: Bool
    }

    /// One streamed answer.
    struct Answer: Equatable {
        var step: String
        var tokens: Int
        var timeToFirstToken: Double
        var tokensPerSecond: Double
    }

    var resources: [Resource] = []
    var answers: [Answer] = []
    /// The run's record page, when it was written.
    var recordPage: String?
    /// Steps skipped because nothing they depend on changed.
    var cached: [String] = []
    /// Live endpoints of the recipe after the run (created by this run or an earlier one).
    var liveEndpoints: [String] = []
    /// The recipe's endpoints this run created, deleted or left running, with what they cost.
    var endpoints: [LedgerEndpoint] = []

    /// The ledger's latest state of every entry, by id (taken before the run to compare with after).
    static func ledgerSnapshot(_ path: String) -> [String: LedgerEntry.State] {
        guard let ledger = try? ResourceLedger(path: path) else { return [:] }
        return Dictionary(ledger.entries.map { ($0.id, $0.state) }, uniquingKeysWith: { _, b in b })
    }

    /// Endpoints the ledger at `path` says may still exist.
    static func liveEndpoints(_ path: String) -> [String] {
        ((try? ResourceLedger(path: path).live) ?? []).filter { $0.type == "sagemaker.endpoint" }.map(\.name)
    }

    /// Reads what the run changed in `ledgerPath` since `before`, and its answers from `recordDir/record.json`.
    init(ledgerPath: String, before: [String: LedgerEntry.State], recordDir: String) {
        let entries = (try? ResourceLedger(path: ledgerPath).entries) ?? []
        for e in entries where e.state != .intent && before[e.id] != e.state {
            resources.append(Resource(type: e.type, name: e.name, createdNow: before[e.id] == nil, live: e.state == .created))
        }
        liveEndpoints = entries.filter { $0.type == "sagemaker.endpoint" && $0.state != .deleted }.map(\.name)
        let touched = Set(resources.filter { $0.type == "sagemaker.endpoint" }.map(\.name))
        endpoints = LedgerEndpoint.read(entries).filter { $0.live || touched.contains($0.name) }
        if FileManager.default.fileExists(atPath: recordDir + "/record.html") { recordPage = recordDir + "/record.html" }
        if let data = FileManager.default.contents(atPath: recordDir + "/record.json"),
            let doc = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let steps = doc["steps"] as? [[String: Any]]
        {
            cached = steps.filter { s in
                let reason = s["reason"] as? String ?? ""
                return s["status"] as? String == "skipped" && !reason.contains("--keep") && reason != "not selected"
            }.compactMap { $0["id"] as? String }
            for s in steps where s["status"] as? String == "ran" {
                guard let out = s["outputs"] as? [String: Any], let ttft = out["time_to_first_token_s"] as? Double else { continue }
                answers.append(Answer(
                    step: s["id"] as? String ?? "?", tokens: out["tokens"] as? Int ?? 0, timeToFirstToken: ttft,
                    tokensPerSecond: out["tokens_per_second"] as? Double ?? 0))
            }
        }
    }

    init(resources: [Resource], answers: [Answer], liveEndpoints: [String], endpoints: [LedgerEndpoint] = []) {
        self.resources = resources
        self.answers = answers
        self.liveEndpoints = liveEndpoints
        self.endpoints = endpoints
    }

    /// Short names for resource types.
    static func noun(_ type: String) -> String {
        switch type {
        case "sagemaker.endpoint": "endpoint"
        case "sagemaker.endpoint-config": "endpoint config"
        case "sagemaker.model": "model"
        case "s3.bucket": "bucket"
        case "s3.object", "s3.objects", "s3.upload": "S3 upload"
        case EndpointTTL.resourceType: "ttl schedule"
        case CloudInventory.uploadType: "unfinished upload"
        default: type
        }
    }

    /// The lines to print. `recipeArgument` is the recipe as the user named it; `local` says the run
    /// used the local cloud; `hasModelParam` offers the real-model hint.
    func lines(recipeArgument: String, local: Bool, hasModelParam: Bool, style: OutputStyle) -> [String] {
        var out: [String] = []
        let label = { (s: String) in style.bold(s.padding(toLength: 9, withPad: " ", startingAt: 0)) }
        let indent = "\n" + String(repeating: " ", count: 9)
        let created = resources.filter(\.createdNow)
        let removedEarlier = resources.filter { !$0.createdNow }
        if !created.isEmpty {
            out.append(label("created") + created.map { r in
                "\(Self.noun(r.type)) \(r.name) " + (r.live ? style.dim("(kept)") : style.dim("(removed by the clean-up)"))
            }.joined(separator: indent))
        }
        if !removedEarlier.isEmpty {
            out.append(label("removed") + removedEarlier.map { "\(Self.noun($0.type)) \($0.name)" }.joined(separator: indent))
        }
        if !cached.isEmpty {
            out.append(label("cached") + cached.joined(separator: ", ") + style.dim(" (unchanged since they last ran)"))
        }
        for a in answers {
            out.append(label("answer") + String(
                format: "%@: %d tokens, first token after %.2f s, %.1f tokens/s", a.step, a.tokens, a.timeToFirstToken, a.tokensPerSecond))
        }
        let cloud = local ? "the local cloud" : "AWS"
        out += costLines(local: local, label: label)
        if liveEndpoints.isEmpty {
            if resources.contains(where: { $0.type == "sagemaker.endpoint" }) {
                out.append(label("cleanup") + style.green("done: no endpoint of this recipe is running on \(cloud)."))
            }
        } else {
            out += runningBanner(recipeArgument: recipeArgument, local: local, style: style, label: label)
        }
        if let recordPage {
            out.append(label("record") + recordPage + style.dim(" (sous report --open shows it)"))
        }
        if liveEndpoints.isEmpty && local {
            var next: [String] = []
            if hasModelParam {
                next.append("a real model: sous run \(recipeArgument) -p model_id=HuggingFaceTB/SmolLM2-135M-Instruct")
            }
            next.append("on AWS: the README's \"Running on AWS\" (credentials, role, bucket, costs)")
            out.append(label("next") + next.joined(separator: indent))
        }
        return out
    }

    /// What this run's endpoints cost: on AWS the estimate of their running time so far; on the local cloud $0, and
    /// what the same endpoints cost on AWS per hour (the quickstart shows what a real run would cost).
    func costLines(local: Bool, label: (String) -> String) -> [String] {
        let priced = endpoints.compactMap { e in e.billing.map { (e, $0) } }
        guard !priced.isEmpty else { return [] }
        let rates = priced.map { "\($0.1.instanceType) × \($0.1.count)" }.joined(separator: ", ")
        let awsHourly = priced.map { $0.1.awsHourly }.reduce(0, +)
        let notes = Set(priced.compactMap { $0.1.quote?.note }).sorted()
        let estimate = (["estimate"] + notes).joined(separator: "; ")
        if local || priced.allSatisfy({ $0.1.local }) {
            return [label("cost") + "local: $0 · on AWS \(rates) would be billed ≈ \(Dollars.format(awsHourly))/h (\(estimate)) from creation to clean-up"]
        }
        let spent = priced.compactMap { e, b in b.quote?.cost(forSeconds: e.seconds()) }.reduce(0, +)
        let time = priced.map { DurationText.duration($0.0.seconds()) }.joined(separator: ", ")
        return [label("cost") + "\(Dollars.approx(spent)) (\(rates) at ≈ \(Dollars.format(awsHourly))/h for \(time); \(estimate))"]
    }

    /// The banner for endpoints left running: what each costs, since when, when its ttl deletes it, and the exact
    /// commands that remove it or set a timer.
    func runningBanner(recipeArgument: String, local: Bool, style: OutputStyle, label: (String) -> String) -> [String] {
        let indent = String(repeating: " ", count: 9)
        let live = endpoints.filter(\.live)
        let hourly = live.compactMap { $0.billing?.hourly }.reduce(0, +)
        let n = liveEndpoints.count
        let what = n == 1 ? "1 endpoint is" : "\(n) endpoints are"
        var out: [String] = []
        if local {
            out.append(label("running") + style.yellow("\(what) still running on the local cloud (local: $0; it stops with the local cloud)."))
        } else {
            out.append(
                label("running") + style.yellow(
                    "⚠ \(what) still running on AWS, billed by the hour: ≈ \(Dollars.format(hourly))/h (estimate), ≈ \(Dollars.format(hourly * 24)) a day."))
        }
        for name in liveEndpoints {
            var line = indent + "  endpoint \(name)"
            if let e = live.first(where: { $0.name == name }) {
                if let b = e.billing { line += ": \(b.rate), up \(DurationText.duration(e.seconds())), \(b.costSoFar(e.seconds())) so far" }
                if let at = e.deleteAt { line += "; its ttl deletes it at \(EndpointTTL.format(at))" }
            }
            out.append(line)
        }
        let flag = local ? " --local" : ""
        out.append(indent + "remove it: sous destroy \(recipeArgument)\(flag)")
        if !local, !live.contains(where: { $0.deleteAt != nil }) {
            out.append(indent + "or have it deleted later even if sous never runs again: sous keep \(recipeArgument) 2h")
        }
        return out
    }
}

/// Durations as the recap and `sous status` print them: `45s`, `12m05s`, `3h12m`, `2d4h`.
enum DurationText {
    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        if s < 86400 { return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m" }
        return "\(s / 86400)d\(s % 86400 / 3600)h"
    }
}
