import Foundation
public import SousRecipe

extension Engine {
    /// Calls `body` with each live ledger resource of `recipe` of type `type`, oldest first, under the recipe's lock,
    /// with a context of the step that created it, so what `body` does is recorded in the ledger as that step's
    /// (`sous keep` moves an endpoint's time-to-live schedule this way).
    /// - Returns: how many resources `body` was called with.
    /// - Throws: ``LockTimeoutError``, ``WorkspaceError``, or the first error of `body` (the resources after it are left).
    @discardableResult
    public func withLiveResources(
        _ recipe: Recipe, type: String, options: RunOptions, command: String, _ body: (LedgerEntry, StepContext) async throws -> Void
    ) async throws -> Int {
        let layout = layout(for: recipe)
        let lock = try WorkspaceLock(path: layout.lockPath, wait: options.lockWait, command: command)
        defer { lock.release() }
        let ledger = try ResourceLedger(path: layout.ledgerPath)
        let secrets = SecretStore(recipe: recipe, environment: options.environment)
        let key = try layout.hashingKey(create: false)
        let entries = ledger.live.filter { $0.type == type }
        for entry in entries {
            let ctx = StepContext(
                stepID: entry.step, kind: entry.kind, inputs: ValueMap(), layout: layout, runID: Self.makeRunID(), recipeName: recipe.name,
                environment: options.environment, assumeYes: options.assumeYes, services: services, ledger: ledger,
                reporter: reporter, redactor: secrets.redactor, key: key)
            try await body(entry, ctx)
        }
        return entries.count
    }
}
