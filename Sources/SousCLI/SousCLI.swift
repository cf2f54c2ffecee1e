public import ArgumentParser

/// The root `sous` command.
public struct SousMain: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "sous",
        abstract: "Run notebook-style LLM deployment recipes on SageMaker or the local cloud.",
        subcommands: [GenerateCommand.self])
    public init() {}
}

/// Entry point used by the `sous` executable.
public func runSous() async {
    await SousMain.main()
}
