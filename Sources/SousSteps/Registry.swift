public import SousEngine

/// Every built-in step kind.
public enum BuiltinSteps {
    /// The registry the CLI uses.
    public static func registry() -> StepRegistry {
        StepRegistry([
            FileWriteKind(), ArchiveTarKind(), ShellKind(), PrintKind(),
            InvokeStreamKind(),
        ])
    }
}
