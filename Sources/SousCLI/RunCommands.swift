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
    @Flag(name: [.customShort("y"), .long], help: "Answer yes to confirmations: a shell command of the recipe, as resolved; for a recipe from a URL, each resource it creates. Approvals are remembered in WORKSPACE/.sous/trusted-commands.")
    var yes = false

    func run() async throws {
        let registry = BuiltinSteps.registry()
        let (recipe, params) = try await self.recipe.load(registry: registry)
        let engine = Engine(registry: registry, workspaceRoot: self.recipe.workspaceRoot, reporter: output.reporter)
        var options = RunOptions()
        selection.apply(to: &options)
        options.assumeYes = yes
        options.lockWait = lock.wait
        options.commandLine = CommandLine.arguments.joined(separator: " ")
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
        await cloud?.close(liveEndpoints: summary.liveEndpoints, quiet: output.quiet || output.json)
        switch result.status {
        case .succeeded: return
        case .failed: throw ExitStatus.stepFailed
        case .interrupted: throw ExitStatus.interrupted
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
        if json {
            let list = decisions.map { d -> Value in
                .map(["step": .string(d.step), "kind": .string(d.kind), "category": .string(d.category.rawValue), "action": .string(d.willRun ? "run" : "skip"), "reason": .string(d.reason), "details": .list(d.details.map(Value.string))])
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
        }
        let n = decisions.filter(\.willRun).count
        Console.out("\(n) of \(decisions.count) steps would run\n")
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
