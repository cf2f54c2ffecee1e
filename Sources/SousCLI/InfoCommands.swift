import ArgumentParser
import Foundation
import SousAWS
import SousEngine
import SousRecipe
import SousSteps

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the workspace's recipes, their last runs, recorded outputs, live resources and running endpoints with what they cost.",
        discussion: """
            Each live endpoint of the workspace's ledgers is listed with its status (asked from AWS or the local cloud),             age, cost per hour and cost so far (estimates from sous's price table; local: $0). With --cloud, every             sous-tagged endpoint of the region instead, including those whose workspace is gone (orphans: `sous gc             --cloud` deletes them).
            """)

    @Option(name: .customLong("workspace"), help: "The workspace folder (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?
    @Argument(help: "Only this recipe (its name in the workspace).")
    var recipe: String?
    @Flag(name: .long, help: "Print JSON.")
    var json = false
    @Flag(name: .long, help: "List every sous-tagged endpoint of the region (from AWS), including those of workspaces that are gone.")
    var cloud = false
    @Flag(name: .long, help: "With --cloud: the workspace's local cloud instead of AWS.")
    var local = false
    @Option(help: "With --cloud: the region (default: AWS_REGION or the profile's).")
    var region: String?

    func run() async throws {
        if cloud { return try await runCloud() }
        let root = RecipeOptions.rootFor(workspace)
        let names = RecipeOptions.recipeNames(in: root)
        let selected = recipe.map { r in names.filter { $0 == r } } ?? names
        if selected.isEmpty {
            Console.out(recipe.map { "no recipe named '\($0)' has run in \(root)\n" } ?? "no recipe has run in \(root)\n")
            return
        }
        var all: [Value] = []
        let style = OutputStyle(json: false, quiet: false, verbose: false)
        var endpointsOf: [String: [LedgerEndpoint]] = [:]
        for name in selected {
            let entries = (try? ResourceLedger(path: WorkspaceLayout(root: root, recipe: name).ledgerPath).entries) ?? []
            endpointsOf[name] = LedgerEndpoint.read(entries).filter(\.live)
        }
        let statuses = await WorkspaceEndpoints.statuses(endpointsOf.values.flatMap { $0 }, workspaceRoot: root)
        var totalHourly = 0.0
        var totalAWS = 0.0
        for name in selected {
            let layout = WorkspaceLayout(root: root, recipe: name)
            let state: RecipeState
            do { state = try RecipeState.load(layout) } catch {
                Console.err("error: \(error)\n")
                continue
            }
            let live = (try? ResourceLedger(path: layout.ledgerPath).live) ?? []
            if json {
                var m: ValueMap = ["recipe": .string(name), "path": state.recipePath.map(Value.string) ?? .null]
                m["runs"] = .list(state.runs.suffix(5).map { r in
                    .map(["run_id": .string(r.runID), "status": .string(r.status), "started_at": .string(ISO8601DateFormatter().string(from: r.startedAt)), "ran": .list(r.ran.map(Value.string)), "skipped": .list(r.skipped.map(Value.string)), "failed": r.failed.map(Value.string) ?? .null])
                })
                m["steps"] = .map(ValueMap(state.steps.sorted { $0.key < $1.key }.map { ($0.key, .map(["kind": .string($0.value.kind), "finished_at": .string(ISO8601DateFormatter().string(from: $0.value.finishedAt)), "outputs": .map($0.value.outputs)])) }))
                m["resources"] = .list(live.map { .map(["type": .string($0.type), "name": .string($0.name), "state": .string($0.state.rawValue)]) })
                m["endpoints"] = .list((endpointsOf[name] ?? []).map { Self.json($0, status: statuses[$0.name]) })
                all.append(.map(m))
                continue
            }
            Console.out(style.bold(name) + (state.recipePath.map { "  " + style.dim($0) } ?? "") + "\n")
            for r in state.runs.suffix(3) {
                let when = ISO8601DateFormatter().string(from: r.startedAt)
                Console.out("  run \(r.runID)  \(r.status)  \(when)  ran \(r.ran.count), cached \(r.skipped.count)\(r.failed.map { ", failed at \($0)" } ?? "")\n")
            }
            for (id, rec) in state.steps.sorted(by: { $0.key < $1.key }) {
                Console.out("  step \(id) (\(rec.kind))\n")
                for o in rec.outputs {
                    let text = o.value.stringValue ?? o.value.jsonString()
                    Console.out("    \(o.key): \(text.count > 100 ? String(text.prefix(97)) + "…" : text)\n")
                }
            }
            if !live.isEmpty {
                Console.out("  live resources (sous destroy removes them):\n")
                for e in live { Console.out("    \(e.type) \(e.name)\(e.state == .intent ? " (creation unconfirmed)" : "")\n") }
            }
            for e in endpointsOf[name] ?? [] {
                totalHourly += e.billing?.hourly ?? 0
                totalAWS += e.billing?.awsHourly ?? 0
                Console.out("  " + style.yellow("running endpoint \(e.name)") + "  \(statuses[e.name] ?? "?")  up \(DurationText.duration(e.seconds()))\n")
                if let b = e.billing { Console.out("    \(b.rate), \(b.costSoFar(e.seconds())) so far\n") }
                if let at = e.deleteAt { Console.out("    its ttl deletes it at \(EndpointTTL.format(at)) (sous keep \(name) DURATION moves it)\n") }
            }
        }
        if json {
            Console.out(Value.list(all).jsonString(pretty: true) + "\n")
        } else if endpointsOf.values.contains(where: { !$0.isEmpty }) {
            let rate = totalHourly == 0 ? EndpointCosts.rate(totalAWS, local: true) : "≈ \(Dollars.format(totalHourly))/h"
            Console.out("running endpoints of this workspace together: \(rate) (\(EndpointCosts.basis(regions: endpointsOf.values.flatMap { $0.compactMap(\.billing?.region) })))\n")
        }
    }

    static func json(_ e: LedgerEndpoint, status: String?) -> Value {
        .map([
            "name": .string(e.name), "status": status.map(Value.string) ?? .null, "age_s": .number(e.seconds()),
            "instance_type": e.billing.map { .string($0.instanceType) } ?? .null, "instance_count": e.billing.map { .int($0.count) } ?? .null,
            "hourly_usd": e.billing.map { .number($0.hourly) } ?? .null, "aws_hourly_usd": e.billing.map { .number($0.awsHourly) } ?? .null,
            "cost_so_far_usd": e.billing.map { .number($0.hourly * e.seconds() / 3600) } ?? .null, "local": .bool(e.billing?.local ?? false),
            "delete_at": e.deleteAt.map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null, "estimate": .bool(true),
        ])
    }

    /// `--cloud`: every sous-tagged endpoint of the region, orphans marked.
    func runCloud() async throws {
        guard let client = try await CloudTarget.client(local: local, workspace: workspace, region: region) else { return }
        let inv: CloudInventory
        do { inv = try await CloudInventory.load(client: client, local: local) } catch { throw fail(error) }
        if json {
            let list = inv.endpoints.map { e -> Value in
                .map([
                    "name": .string(e.name), "status": e.status.map(Value.string) ?? .null, "age_s": .number(e.age()),
                    "instance_type": e.billing.map { .string($0.instanceType) } ?? .null,
                    "hourly_usd": e.billing.map { .number($0.hourly) } ?? .null, "aws_hourly_usd": e.billing.map { .number($0.awsHourly) } ?? .null,
                    "cost_so_far_usd": e.billing.map { .number($0.hourly * e.age() / 3600) } ?? .null,
                    "recipe": e.recipe.map(Value.string) ?? .null, "workspace": e.workspace.map(Value.string) ?? .null,
                    "orphan": e.orphan.map(Value.string) ?? .null, "local": .bool(local), "estimate": .bool(true),
                ])
            }
            Console.out(Value.map(["region": .string(inv.region), "endpoints": .list(list), "orphans": .int(inv.orphans.count)]).jsonString(pretty: true) + "\n")
            return
        }
        let style = OutputStyle(json: false, quiet: false, verbose: false)
        let place = local ? "the local cloud" : inv.region
        if inv.endpoints.isEmpty {
            Console.out("no sous-tagged endpoint is running in \(place)\n")
        } else {
            Console.out("sous-tagged endpoints in \(place):\n")
            for line in inv.endpointLines(style: style) { Console.out(line + "\n") }
            let hourly = inv.endpoints.compactMap { $0.billing?.hourly }.reduce(0, +)
            Console.out("together ≈ \(Dollars.format(hourly))/h (\(EndpointCosts.basis(regions: [inv.region])))\n")
        }
        let orphans = inv.orphans
        if !orphans.isEmpty {
            Console.out("\(orphans.count) orphan(s) (endpoints, configs, models no workspace here owns): `sous gc --cloud\(local ? " --local" : "")` deletes them\n")
        }
    }
}

extension RecipeOptions {
    static func rootFor(_ workspace: String?) -> String {
        let p = workspace ?? ProcessInfo.processInfo.environment["SOUS_WORKSPACE"].flatMap { $0.isEmpty ? nil : $0 } ?? "workspace"
        return p.hasPrefix("/") ? p : FileManager.default.currentDirectoryPath + "/" + p
    }

    /// The recipes that have run in the workspace `root` (folders holding a state.json), sorted.
    static func recipeNames(in root: String) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: root))?.filter {
            FileManager.default.fileExists(atPath: root + "/" + $0 + "/state.json")
        }.sorted() ?? []
    }
}

struct StepsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steps",
        abstract: "List step kinds, or document one (inputs, outputs, category).",
        discussion: """
            `--markdown` prints the same as Markdown: the list as the README's table, or with --all every \
            kind's inputs and outputs (docs/steps.md is that output; a test keeps both in step).
            """)

    @Argument(help: "A step kind, e.g. file.write.")
    var kind: String?
    @Flag(help: "Print Markdown (the README's table; with --all, docs/steps.md).")
    var markdown = false
    @Flag(help: "Document every kind (with --markdown).")
    var all = false

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let schemas = registry.schemas.values.sorted { $0.kind < $1.kind }
        if markdown {
            if let kind {
                guard let s = registry.schemas[kind] else { throw unknown(kind, registry) }
                Console.out(StepsReference.markdown(s))
            } else {
                Console.out(all ? StepsReference.document(schemas) : StepsReference.table(schemas))
            }
            return
        }
        guard let kind else {
            let w = schemas.map(\.kind.count).max() ?? 0
            for s in schemas {
                Console.out("\(s.kind.padding(toLength: w, withPad: " ", startingAt: 0))  \(s.category.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))  \(s.summary)\n")
            }
            return
        }
        guard let s = registry.schemas[kind] else { throw unknown(kind, registry) }
        var out = "\(s.kind) (version \(s.version), category \(s.category.rawValue))\n\(s.summary)\n\nInputs:\n"
        for i in s.inputs {
            var line = "  \(i.name): \(i.type.rawValue)"
            if i.required { line += ", required" }
            if let d = i.defaultValue { line += ", default \(d.jsonString())" }
            if let a = i.allowed { line += ", one of \(a.joined(separator: "|"))" }
            out += line + "\n      \(i.description)\n"
        }
        out += "\nOutputs:\n"
        for o in s.outputs { out += "  \(o.name): \(o.type.rawValue)\n      \(o.description)\n" }
        Console.out(out)
    }

    private func unknown(_ kind: String, _ registry: StepRegistry) -> any Error {
        Console.err("error: unknown step kind '\(kind)'\(Suggest.hint(kind, registry.schemas.keys)) (`sous steps` lists them)\n")
        return ExitStatus.invalid
    }
}

/// The step kinds' reference in Markdown, generated from their schemas (the README's table and
/// docs/steps.md are this output, checked by a test).
enum StepsReference {
    /// `|` and line breaks would break a table cell.
    static func cell(_ s: String) -> String {
        s.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }

    /// One row per kind: kind, category, summary.
    static func table(_ schemas: [StepKindSchema]) -> String {
        var out = "| kind | category | what it does |\n|---|---|---|\n"
        for s in schemas { out += "| [`\(s.kind)`](docs/steps.md#\(anchor(s.kind))) | \(s.category.rawValue) | \(cell(s.summary)) |\n" }
        return out
    }

    /// GitHub's heading anchor for a kind's section (`sagemaker.invoke-stream` → `sagemakerinvoke-stream`).
    static func anchor(_ kind: String) -> String {
        String(kind.lowercased().filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
    }

    /// One kind: its inputs and outputs as tables.
    static func markdown(_ s: StepKindSchema) -> String {
        var out = "## \(s.kind)\n\n\(cell(s.summary))\n\nCategory: **\(s.category.rawValue)** · version \(s.version)\n\n"
        if !s.inputs.isEmpty {
            out += "| input | type | default | what it is |\n|---|---|---|---|\n"
            for i in s.inputs {
                var d = i.required ? "**required**" : i.defaultValue.map { "`\(cell($0.jsonString()))`" } ?? ""
                if let a = i.allowed { d += (d.isEmpty ? "" : "; ") + "one of " + a.map { "`\($0)`" }.joined(separator: ", ") }
                out += "| `\(i.name)` | \(i.type.rawValue) | \(d) | \(cell(i.description)) |\n"
            }
            out += "\n"
        }
        if !s.outputs.isEmpty {
            out += "| output | type | what it is |\n|---|---|---|\n"
            for o in s.outputs { out += "| `\(o.name)` | \(o.type.rawValue) | \(cell(o.description)) |\n" }
            out += "\n"
        }
        return out
    }

    /// docs/steps.md: every kind.
    static func document(_ schemas: [StepKindSchema]) -> String {
        var out = """
            # Step kinds

            Generated by `sous steps --markdown --all` (a test checks that this file matches). `sous steps KIND`
            prints the same for one kind in the terminal.

            Categories decide caching: **pure** steps are skipped while their fingerprint matches and their outputs
            are intact; **create** steps are recorded in the resource ledger and skipped while the resource still
            exists; **effect** steps always run; **teardown** steps run last, in reverse order of the creates they
            undo, and are skipped with `--keep`.


            """
        for s in schemas { out += markdown(s) }
        return out
    }
}
