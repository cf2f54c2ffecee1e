import ArgumentParser
import Foundation
import SousEngine
import SousRecipe

/// `sous report`: the path of a run's `record.html` (the latest run by default), optionally opened.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Print the path of a run's record.html (the latest run by default); --open shows it in a browser.",
        discussion: """
            Every `sous run` writes WORKSPACE/RECIPE/runs/RUN-ID/record.html next to record.md and \
            record.json, and rewrites it after each step: the steps as notebook cells (why each ran or was \
            skipped, inputs, output, outputs, errors), serving.properties files, the resources the run \
            created and whether they still exist, and a chart of when each token of a streamed answer \
            arrived. The page is self-contained: it loads nothing from the network.

            Without RUN, the latest run of the recipe. Without --recipe, the workspace's only recipe (or \
            the recipe holding RUN). Exit statuses: 0 printed (and opened) · 1 the page cannot be opened · \
            2 unknown recipe or run.
            """)

    @Argument(help: "A run id, as `sous status` lists them (default: the latest run).")
    var run: String?

    @Option(name: .customLong("recipe"), help: ArgumentHelp("The recipe's name in the workspace (needed when it holds several).", valueName: "name"))
    var recipe: String?

    @Flag(name: .customLong("open"), help: "Open the page with xdg-open (Linux) or open (macOS).")
    var open = false

    @Option(name: .customLong("workspace"), help: "The workspace folder (default: $SOUS_WORKSPACE or ./workspace).")
    var workspace: String?

    func run() async throws {
        let root = RecipeOptions.rootFor(workspace)
        let (name, runID) = try resolve(root: root)
        let runDir = WorkspaceLayout(root: root, recipe: name).runsDir + "/" + runID
        let page = runDir + "/record.html"
        guard FileManager.default.fileExists(atPath: page) else {
            Console.err("error: run \(runID) of \(name) has no record.html (an earlier sous recorded it); its record is \(runDir)/record.md\n")
            throw ExitCode.failure
        }
        Console.out(page + "\n")
        if open { try Self.open(page) }
    }

    /// The recipe and run to show.
    func resolve(root: String) throws -> (recipe: String, run: String) {
        let names = RecipeOptions.recipeNames(in: root)
        if names.isEmpty { throw Self.usage("no recipe has run in \(root)") }
        let name: String
        if let recipe {
            guard names.contains(recipe) else {
                throw Self.usage("no recipe named '\(recipe)' has run in \(root)\(Suggest.hint(recipe, names)) (recipes: \(names.joined(separator: ", ")))")
            }
            name = recipe
        } else if names.count == 1 {
            name = names[0]
        } else {
            // A run id names its recipe when only one recipe has a run by that id.
            let holding = run.map { id in names.filter { Self.runIDs(root, $0).contains(id) } } ?? []
            guard holding.count == 1 else {
                throw Self.usage("the workspace \(root) holds several recipes (\(names.joined(separator: ", "))); give one with --recipe NAME")
            }
            name = holding[0]
        }
        let ids = Self.runIDs(root, name)
        guard let id = run ?? Self.latestRun(root, name, ids) else { throw Self.usage("recipe \(name) has no run in \(root)") }
        guard ids.contains(id) else {
            let recent = ids.suffix(3).reversed().joined(separator: ", ")
            throw Self.usage("recipe \(name) has no run '\(id)'\(Suggest.hint(id, ids)) (latest: \(recent))")
        }
        return (name, id)
    }

    /// Run folders of a recipe, oldest first (run ids start with their UTC time).
    static func runIDs(_ root: String, _ recipe: String) -> [String] {
        let dir = WorkspaceLayout(root: root, recipe: recipe).runsDir
        return ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// The run started last: the state's latest run when its folder exists, else the newest folder.
    static func latestRun(_ root: String, _ recipe: String, _ ids: [String]) -> String? {
        if let last = (try? RecipeState.load(WorkspaceLayout(root: root, recipe: recipe)))?.runs.last?.runID, ids.contains(last) {
            return last
        }
        return ids.last
    }

    static func usage(_ message: String) -> ExitCode {
        Console.err("error: \(message)\n")
        return ExitStatus.invalid
    }

    /// Opens `path` with the desktop's opener.
    static func open(_ path: String) throws {
        #if os(macOS)
            let openers = ["open", "xdg-open"]
        #else
            let openers = ["xdg-open"]
        #endif
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        guard let exe = openers.lazy.flatMap({ o in dirs.map { "\($0)/\(o)" } }).first(where: FileManager.default.isExecutableFile) else {
            Console.err("error: cannot open the page: \(openers.joined(separator: " or ")) is not on PATH; open the file above in a browser\n")
            throw ExitCode.failure
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = [path]
        do { try p.run() } catch {
            Console.err("error: cannot run \(exe): \(error)\n")
            throw ExitCode.failure
        }
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            Console.err("error: \(exe) \(path) exited with status \(p.terminationStatus)\n")
            throw ExitCode.failure
        }
    }
}
