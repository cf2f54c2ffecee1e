import ArgumentParser
import Foundation
import SousEngine
import SousRecipe
import SousSteps

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a recipe; steps whose inputs and outputs are unchanged are skipped.",
        discussion: """
            Prints one line per step: `[3/7] package  archive.tar  cached` or `ran 0.4 s`. \
            A run record (record.md, record.html, record.json, logs/) is kept in WORKSPACE/RECIPE/runs/RUN-ID/; `sous report` prints the page's path.
            """)

    @OptionGroup var recipe: RecipeOptions
    @OptionGroup var output: OutputOptions

    @OptionGroup var selection: SelectionOptions
    @OptionGroup var cloud: CloudOptions
    @OptionGroup var lock: LockOptions
    @OptionGroup var budget: BudgetOptions
    @OptionGroup var ttl: TTLOptions
    @Flag(name: .customLong("preflight-only"), help: "Run only the recipe's preflight steps (credentials, role, bucket, Hub access, instance type and quota, memory) and stop; nothing is created.")
    var preflightOnly = false
    @Flag(name: [.customShort("y"), .long], help: "Answer yes to confirmations: a shell command of the recipe, as resolved; for a recipe from a URL, each resource it creates. Approvals are remembered in WORKSPACE/.sous/trusted-commands.")
    var yes = false

    func validate() throws {
        if preflightOnly && (selection.step != nil || selection.from != nil) { throw ValidationError("--preflight-only runs the preflight steps; give it without --step or --from") }
    }

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let (recipe, params) = try await self.recipe.load(registry: registry)
        let engine = Engine(registry: registry, workspaceRoot: self.recipe.workspaceRoot, reporter: output.reporter)
        engine.services[EndpointTTLSettings.self].set(ttl.override)
        if preflightOnly { return try await runPreflight(recipe, params: params, engine: engine) }
        var options = RunOptions()
        selection.apply(to: &options)
        options.assumeYes = yes
        options.lockWait = lock.wait
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        do {
            try budget.check(recipe, params: params, engine: engine, options: options, local: self.cloud.local || recipe.local)
        } catch let e as StepError {
            throw fail(e)
        }
        let cloud = try await self.cloud.open(for: recipe, workspaceRoot: self.recipe.workspaceRoot, options: &options)
        options.confirm = { prompt in
            guard isatty(STDIN_FILENO) == 1 else { return false }
            Console.err(prompt + " [y/N] ")
            return (readLine() ?? "").lowercased().hasPrefix("y")
        }
        let opts = options
        let ledgerPath = engine.layout(for: recipe).ledgerPath
        let before = RunRecap.ledgerSnapshot(ledgerPath)
        let result: RunResult
        do {
            result = try await withInterruptHandling { try await engine.run(recipe, params: params, options: opts) }
        } catch {
            await cloud?.close(liveEndpoints: RunRecap.liveEndpoints(ledgerPath), quiet: output.quiet || output.json)
            throw fail(error)
        }
        let summary = RunRecap(ledgerPath: ledgerPath, before: before, recordDir: result.recordPath)
        if !output.json && !output.quiet {
            let lines = summary.lines(
                recipeArgument: self.recipe.recipe, local: cloud != nil, hasModelParam: recipe.param("model_id") != nil,
                style: OutputStyle(json: false, quiet: false, verbose: false, fd: STDERR_FILENO))
            if !lines.isEmpty { Console.err("\n" + lines.joined(separator: "\n") + "\n") }
        }
        if result.status == .succeeded, ttl.seconds != nil {
            try await ttl.keepCachedEndpoints(recipe, engine: engine, options: opts, runID: result.runID, quiet: output.quiet || output.json)
        }
        await cloud?.close(liveEndpoints: summary.liveEndpoints, quiet: output.quiet || output.json)
        switch result.status {
        case .succeeded: return
        case .failed: throw ExitStatus.stepFailed
        case .interrupted: throw ExitStatus.interrupted
        }
    }

    /// `--preflight-only`: each `preflight` step of the recipe, alone; nothing else runs, nothing is created.
    func runPreflight(_ recipe: Recipe, params: ValueMap, engine: Engine) async throws {
        let steps = recipe.steps.filter { $0.uses == BuiltinSteps.preflight }
        guard !steps.isEmpty else {
            Console.err("error: \(recipe.path) has no preflight step; add one before the first step that creates something:\n  - id: preflight\n    uses: preflight\n    with: {role: …, bucket: …, model_id: …, instance_type: …}\n(`sous steps preflight` lists its inputs)\n")
            throw ExitStatus.invalid
        }
        var options = RunOptions()
        options.assumeYes = yes
        options.lockWait = lock.wait
        options.commandLine = CommandLine.arguments.joined(separator: " ")
        let cloud = try await self.cloud.open(for: recipe, workspaceRoot: self.recipe.workspaceRoot, options: &options)
        var failed = false
        for step in steps {
            var opts = options
            opts.selection = .step(step.id)
            let result: RunResult
            do {
                result = try await withInterruptHandling { [opts] in try await engine.run(recipe, params: params, options: opts) }
            } catch {
                await cloud?.close(liveEndpoints: [], quiet: output.quiet || output.json)
                throw fail(error)
            }
            if result.status == .interrupted {
                await cloud?.close(liveEndpoints: [], quiet: output.quiet || output.json)
                throw ExitStatus.interrupted
            }
            failed = failed || result.status != .succeeded
        }
        await cloud?.close(liveEndpoints: [], quiet: output.quiet || output.json)
        if !output.json && !output.quiet {
            Console.err(failed ? "preflight failed: fix what it says, then run again; nothing was created\n" : "preflight passed; nothing was created\n")
        }
        if failed { throw ExitStatus.stepFailed }
    }
}

/// `--ttl DURATION` and `--ttl-role ARN` of `sous run`.
struct TTLOptions: ParsableArguments {
    @Option(
        name: .customLong("ttl"),
        help: ArgumentHelp(
            "Delete every endpoint the run leaves running this long from now (e.g. 2h, 90m, 1d), with a one-time EventBridge Scheduler schedule that works even if sous never runs again; `sous keep RECIPE DURATION` moves it.",
            valueName: "duration"))
    var ttlText: String?
    @Option(
        name: .customLong("ttl-role"),
        help: ArgumentHelp(
            "The IAM role EventBridge Scheduler assumes to delete the endpoint (trusts scheduler.amazonaws.com, may call sagemaker:DeleteEndpoint; default: the steps' ttl_role, else $SOUS_SCHEDULER_ROLE).",
            valueName: "arn"))
    var role: String?

    var seconds: Double? { ttlText.flatMap(EndpointTTL.parse) }

    func validate() throws {
        if let t = ttlText, EndpointTTL.parse(t) == nil { throw ValidationError("--ttl \(t): not a duration; write it like 2h, 90m, 1h30m or 1d") }
        if role != nil && ttlText == nil { throw ValidationError("--ttl-role goes with --ttl") }
    }

    var override: EndpointTTLOverride { EndpointTTLOverride(seconds: seconds, role: role) }

    /// After a run with `--ttl`: endpoints the run found already running (cached, so their step did not run) get the
    /// same timer, from now.
    func keepCachedEndpoints(_ recipe: Recipe, engine: Engine, options: RunOptions, runID: String, quiet: Bool) async throws {
        guard let seconds else { return }
        do {
            try await engine.withLiveResources(recipe, type: "sagemaker.endpoint", options: options, command: "sous run --ttl") { entry, ctx in
                guard !EndpointTTL.armed(endpoint: entry.name, run: runID, ctx: ctx) else { return }
                let at = try await EndpointTTL.keep(ctx, endpoint: entry, seconds: seconds, role: role)
                if !quiet { Console.err("ttl      endpoint \(entry.name) (already running) is deleted at \(EndpointTTL.format(at))\n") }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct PlanCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show, for every step, whether `sous run` would run or skip it, and why.",
        discussion: "Reads the workspace; never writes to it and never takes the recipe's lock.")

    @OptionGroup var recipe: RecipeOptions
    @Flag(name: .long, help: "Print the plan as JSON.")
    var json = false
    @OptionGroup var selection: SelectionOptions
    @OptionGroup var cloud: CloudOptions
    @OptionGroup var budget: BudgetOptions

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let (recipe, params) = try await self.recipe.load(registry: registry)
        let engine = Engine(registry: registry, workspaceRoot: self.recipe.workspaceRoot)
        var options = RunOptions()
        selection.apply(to: &options)
        let cloud = try await self.cloud.open(for: recipe, workspaceRoot: self.recipe.workspaceRoot, options: &options)
        let decisions: [StepDecision]
        do { decisions = try await engine.plan(recipe, params: params, options: options) } catch {
            await cloud?.close(liveEndpoints: [], quiet: json)
            throw fail(error)
        }
        await cloud?.close(liveEndpoints: [], quiet: json)
        let local = cloud != nil
        let costs = PlanCosts.byStep(recipe, params: params, decisions: decisions, registry: registry, environment: options.environment)
        if json {
            let list = decisions.map { d -> Value in
                var m: ValueMap = ["step": .string(d.step), "kind": .string(d.kind), "category": .string(d.category.rawValue), "action": .string(d.willRun ? "run" : "skip"), "reason": .string(d.reason), "details": .list(d.details.map(Value.string))]
                if let c = costs[d.step] { m["cost"] = PlanCosts.json(c, local: local) }
                return .map(m)
            }
            Console.out(Value.list(list).jsonString(pretty: true) + "\n")
            return
        }
        let style = OutputStyle(json: false, quiet: false, verbose: false)
        for line in RecipeOptions.origins(recipe) { Console.out(style.dim(line) + "\n") }
        let width = decisions.map(\.step.count).max() ?? 0
        let kwidth = decisions.map(\.kind.count).max() ?? 0
        for (i, d) in decisions.enumerated() {
            let action = d.willRun ? style.yellow("run ") : style.green("skip")
            let id = d.step.padding(toLength: width, withPad: " ", startingAt: 0)
            let kind = d.kind.padding(toLength: kwidth, withPad: " ", startingAt: 0)
            Console.out("\(style.dim("[\(i + 1)/\(decisions.count)]")) \(id)  \(style.dim(kind))  \(action)  \(d.reason)\n")
            for line in d.details { Console.out("      \(style.dim(line))\n") }
            if let c = costs[d.step] { Console.out("      \(PlanCosts.detail(c, willRun: d.willRun, local: local))\n") }
        }
        let n = decisions.filter(\.willRun).count
        Console.out("\(n) of \(decisions.count) steps would run\n")
        for line in PlanCosts.footer(costs, decisions: decisions, budget: budget.budget(recipe), local: local) { Console.out(line + "\n") }
    }
}

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a recipe (syntax, keys, step kinds, inputs, references, params) without running it.")

    @OptionGroup var recipe: RecipeOptions

    func run() async throws {
        let (r, _) = try await recipe.load(registry: BuiltinSteps.registry())
        for line in RecipeOptions.origins(r) { Console.out(line + "\n") }
        Console.out("\(r.path): ok (\(r.steps.count) steps, \(r.params.count) params, \(r.secrets.count) secrets)\n")
    }
}

struct DestroyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "destroy",
        abstract: "Delete every resource the recipe created (endpoints, models, uploads), newest first.")

    @OptionGroup var recipe: RecipeOptions
    @Flag(name: [.customShort("y"), .long], help: "Do not ask for confirmation.")
    var yes = false
    @OptionGroup var cloud: CloudOptions
    @OptionGroup var lock: LockOptions

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let (recipe, _) = try await self.recipe.load(registry: registry)
        let engine = Engine(registry: registry, workspaceRoot: self.recipe.workspaceRoot, reporter: TerminalReporter(style: OutputStyle(json: false, quiet: false, verbose: true)))
        let layout = engine.layout(for: recipe)
        let live = (try? ResourceLedger(path: layout.ledgerPath).live) ?? []
        if live.isEmpty {
            Console.out("nothing to destroy: the ledger of \(recipe.name) holds no live resources\n")
            return
        }
        Console.out("resources of \(recipe.name):\n" + live.reversed().map { "  \($0.type) \($0.name)" }.joined(separator: "\n") + "\n")
        if !yes {
            guard isatty(STDIN_FILENO) == 1 else {
                Console.err("error: pass --yes to destroy without a prompt\n")
                throw ExitStatus.invalid
            }
            Console.err("Delete them? [y/N] ")
            guard (readLine() ?? "").lowercased().hasPrefix("y") else { throw ExitStatus.stepFailed }
        }
        var options = RunOptions()
        options.lockWait = lock.wait
        options.assumeYes = true
        let cloud = try await self.cloud.open(for: recipe, workspaceRoot: self.recipe.workspaceRoot, options: &options)
        let opts = options
        do {
            let gone = try await engine.destroy(recipe, options: opts)
            Console.out("destroyed \(gone.count) resource(s)\n")
        } catch {
            await cloud?.close(liveEndpoints: RunRecap.liveEndpoints(layout.ledgerPath), quiet: false)
            throw fail(error)
        }
        await cloud?.close(liveEndpoints: RunRecap.liveEndpoints(layout.ledgerPath), quiet: false)
    }
}

/// `--step`, `--from`, `--force`, `--keep`: which steps `run` runs (and `plan` plans as if).
struct SelectionOptions: ParsableArguments {
    @Option(name: .customLong("step"), help: ArgumentHelp("Only this step, using the recorded outputs of the steps before it.", valueName: "id"))
    var step: String?
    @Option(name: .customLong("from"), help: ArgumentHelp("This step and every step after it.", valueName: "id"))
    var from: String?
    @Flag(name: .long, help: "Ignore the cache: run every selected step.")
    var force = false
    @Flag(name: .long, help: "Skip teardown steps (keep endpoints and uploads).")
    var keep = false

    func validate() throws {
        if step != nil && from != nil { throw ValidationError("give --step or --from, not both") }
    }

    func apply(to options: inout RunOptions) {
        options.selection = step.map(RunOptions.Selection.step) ?? from.map(RunOptions.Selection.from) ?? .all
        options.force = force
        options.keep = keep
    }
}

/// `--local`: the command runs against the local cloud.
struct CloudOptions: ParsableArguments {
    @Flag(name: .long, help: "Run against the local cloud (started when needed), as `local: true` in the recipe does.")
    var local = false

    /// With `--local` or `local: true`, the local cloud session (started when needed) whose environment
    /// `options` now carries; otherwise nil.
    func open(for recipe: Recipe, workspaceRoot: String, options: inout RunOptions) async throws -> LocalCloudSession? {
        guard local || recipe.local else { return nil }
        let session = try await LocalCloudSession.open(workspaceRoot: workspaceRoot, base: options.environment)
        options.environment = session.environment
        return session
    }
}

/// `--wait`: how long to wait for the recipe's lock.
struct LockOptions: ParsableArguments {
    @Option(name: .customLong("wait"), help: ArgumentHelp("Seconds to wait for another run of this recipe to finish.", valueName: "seconds"))
    var wait: Double = 60
}
