public import ArgumentParser
import Foundation
import SousEngine
import SousRecipe
import SousSteps

/// The root `sous` command.
public struct SousMain: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sous",
        abstract: "Run notebook-style LLM deployment recipes on SageMaker or the local cloud.",
        discussion: """
            A recipe is a YAML file of ordered steps (download a model, write serving.properties, \
            upload to S3, deploy an endpoint, stream answers, clean up). Each step's result is cached \
            in a workspace, so reruns skip what is up to date and resume after a failure.

            Exit statuses: 0 success · 1 a step failed · 2 invalid recipe or params · \
            3 the recipe is locked by another run · 64 bad usage · 130 interrupted.
            """,
        subcommands: [
            RunCommand.self, PlanCommand.self, StatusCommand.self, ReportCommand.self, ValidateCommand.self, StepsCommand.self,
            DestroyCommand.self, LocalCommand.self, GenerateCommand.self, InvokeCommand.self, ChatCommand.self,
            HubCommand.self, BenchCommand.self, NewCommand.self, ParamsCommand.self, KeepCommand.self, GCCommand.self, PricesCommand.self,
        ])
    public init() {}
}

/// Entry point used by the `sous` executable.
public func runSous() async {
    await SousMain.main()
}

/// Exit statuses documented in `sous --help` and the README.
enum ExitStatus {
    static let stepFailed = ExitCode(1)
    static let invalid = ExitCode(2)
    static let locked = ExitCode(3)
    static let interrupted = ExitCode(130)
}

/// Options every recipe command takes.
struct RecipeOptions: ParsableArguments {
    @Argument(help: "The recipe: a YAML file, an https:// URL, or github:OWNER/REPO/PATH.yaml@REF (a URL may end in #sha256=HEX).")
    var recipe: String

    @Option(name: .customLong("workspace"), help: "The workspace folder (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?

    @Option(name: [.customShort("p"), .customLong("param")], help: ArgumentHelp("Override a param.", valueName: "key=value"))
    var params: [String] = []

    @Option(name: .customLong("params"), help: ArgumentHelp("Read param values from a YAML map.", valueName: "file.yaml"))
    var paramsFile: String?

    var workspaceRoot: String { resolveWorkspace(workspace) }

    /// A loader that fetches remote recipes into this workspace's cache.
    static func loader(registry: StepRegistry, workspaceRoot: String) -> RecipeLoader {
        RecipeLoader(kinds: registry.schemas, fetcher: WorkspaceRecipeFetcher(workspaceRoot: workspaceRoot))
    }

    /// `from URL sha256 HEX` for every file of the recipe that was fetched from the web, so that a
    /// user can pin it.
    static func origins(_ recipe: Recipe) -> [String] {
        recipe.sources.filter { $0.path.contains("://") }.map { "from \($0.path) sha256 \($0.sha256 ?? "unknown")" }
    }

    /// Loads and validates the recipe (a path, a URL or `github:…`) and its params, printing
    /// diagnostics and exiting 2 on error.
    func load(registry: StepRegistry) async throws -> (Recipe, ValueMap) {
        do {
            let recipe = try await Self.loader(registry: registry, workspaceRoot: workspaceRoot).load(reference: recipe)
            var overrides: [(String, String)] = []
            for p in params {
                guard let eq = p.firstIndex(of: "=") else {
                    throw ValidationError("-p \(p): expected key=value")
                }
                overrides.append((String(p[..<eq]), String(p[p.index(after: eq)...])))
            }
            let fileValues = try paramsFile.map(Recipe.loadParamsFile) ?? ValueMap()
            return (recipe, try recipe.resolveParams(overrides: overrides, fileValues: fileValues))
        } catch let e as RecipeError {
            Console.err(e.description + "\n")
            throw ExitStatus.invalid
        } catch let e as ParamError {
            Console.err("error: \(e.description)\n")
            throw ExitStatus.invalid
        }
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(name: .long, help: "Print one JSON event per line (for scripts).")
    var json = false
    @Flag(name: [.short, .long], help: "Print only step output and errors.")
    var quiet = false
    @Flag(name: [.short, .long], help: "Print why each step runs and its log lines.")
    var verbose = false

    var style: OutputStyle { OutputStyle(json: json, quiet: quiet, verbose: verbose) }
    var reporter: any RunReporter { json ? JSONReporter() : TerminalReporter(style: style) }
}

/// Maps engine errors to messages and exit statuses.
func fail(_ error: any Error) -> any Error {
    switch error {
    case let e as ExitCode: return e
    case let e as ValidationError: return e
    case let e as LockTimeoutError:
        Console.err("error: \(e.description)\n")
        return ExitStatus.locked
    case let e as RecipeError:
        Console.err(e.description + "\n")
        return ExitStatus.invalid
    case is InterruptedError, is CancellationError:
        Console.err("interrupted; finished steps are recorded, rerun to resume\n")
        return ExitStatus.interrupted
    default:
        Console.err("error: \(error)\n")
        return ExitStatus.stepFailed
    }
}

/// Runs `body` in a task that SIGINT/SIGTERM cancel (a second signal exits at once).
func withInterruptHandling<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await body() }
    signal(SIGINT, SIG_IGN)
    signal(SIGTERM, SIG_IGN)
    let queue = DispatchQueue(label: "sous.signals")
    let sources = [SIGINT, SIGTERM].map { DispatchSource.makeSignalSource(signal: $0, queue: queue) }
    nonisolated(unsafe) var count = 0
    for s in sources {
        s.setEventHandler {
            count += 1
            if count == 1 {
                Console.err("\ninterrupting… (press Ctrl-C again to quit at once)\n")
                task.cancel()
            } else {
                exit(130)
            }
        }
        s.resume()
    }
    defer { for s in sources { s.cancel() } }
    return try await task.value
}
