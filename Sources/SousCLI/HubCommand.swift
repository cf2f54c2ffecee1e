import ArgumentParser
import Foundation
import SousHub

/// `sous hub …`: Hugging Face Hub commands.
struct HubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub",
        abstract: "Hugging Face Hub commands (downloads share huggingface_hub's cache).",
        subcommands: [HubDownloadSubcommand.self])
}

/// `sous hub download REPO …`: `HubDownloadCommand.run` from SousHub.
struct HubDownloadSubcommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "download",
        abstract: "Download a repo snapshot into the Hugging Face cache and print one JSON line.",
        discussion: """
            Options: --revision R, --include GLOB (repeatable), --exclude GLOB (repeatable), --local-dir DIR, \
            --cache-dir DIR, --workers N, --offline, --progress. The token comes from HF_TOKEN, HF_TOKEN_PATH or \
            $HF_HOME/token; the endpoint from HF_ENDPOINT. Exit status 0 success, 1 download error, 2 usage error.
            """)

    @Argument(parsing: .captureForPassthrough, help: ArgumentHelp("REPO and options.", valueName: "args"))
    var arguments: [String] = []

    func run() async throws {
        if arguments.contains("--help") || arguments.contains("-h") {
            Console.out(HubDownloadSubcommand.helpMessage() + "\n")
            return
        }
        let status = await HubDownloadCommand.run(arguments)
        if status != 0 { throw ExitCode(status) }
    }
}
