import Foundation
import SousEngine
import SousRecipe
import SousTestSupport
import Synchronization
import Testing

/// A pure kind with a folder input: the engine fingerprints the folder by content (its files hashed on all
/// cores, combined in path order).
struct FolderReaderKind: StepKind {
    final class Counter: Sendable { let value = Mutex(0) }
    let runs = Counter()
    static let configuration = StepKindConfiguration(name: "test.folder", version: 1, category: .pure, summary: "reads a folder")
    struct Inputs: StepInputs {
        @Input(.path, "a folder") var source: String
    }
    struct Outputs: StepOutputs {
        @Output("files seen") var files: Int
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        runs.value.withLock { $0 += 1 }
        var outputs = Outputs()
        outputs.files = FileManager.default.enumerator(atPath: inputs.source)?.allObjects.count ?? 0
        return outputs
    }
}

@Suite struct FolderFingerprintTests {
    @Test func aFolderInputReRunsOnlyWhenSomeFileChanges() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-folder-fp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = dir.appendingPathComponent("data")
        try FileManager.default.createDirectory(at: data.appendingPathComponent("sub"), withIntermediateDirectories: true)
        for i in 0..<12 {  // sizes from 0 to ~3 MiB, so the largest-first order differs from the path order
            try Data(repeating: UInt8(i), count: (i * 263_000) % 3_100_000).write(to: data.appendingPathComponent(i % 3 == 0 ? "sub/f\(i)" : "f\(i)"))
        }
        let kind = FolderReaderKind()
        let engine = Engine(registry: StepRegistry([kind]), workspaceRoot: dir.appendingPathComponent("ws").path, reporter: EventLog())
        let recipe = try RecipeLoader(kinds: StepRegistry([kind]).schemas).parse(
            text: "steps:\n  - id: read\n    uses: test.folder\n    with: {source: \(data.path)}\n", path: "r.yaml", defaultName: "r")
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 1)  // same content: cached

        // Touched but identical: the stat changed, the content digest did not, so still cached.
        let f5 = data.appendingPathComponent("f5")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 2_000_000)], ofItemAtPath: f5.path)
        #expect(try await engine.plan(recipe, params: [:], options: RunOptions())[0].willRun == false)

        // One byte of one file changed, size and mtime kept: the content digest differs, the step reruns.
        var bytes = try Data(contentsOf: f5)
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: f5)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 3_000_000)], ofItemAtPath: f5.path)
        #expect(try await engine.plan(recipe, params: [:], options: RunOptions())[0].willRun == true)
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 2)

        // An unreadable file is an error of the step, not a crash.
        let locked = data.appendingPathComponent("sub/f3")
        #expect(chmod(locked.path, 0) == 0)
        defer { chmod(locked.path, 0o644) }
        if access(locked.path, R_OK) != 0 {  // (root reads anything: nothing to check then)
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 4_000_000)], ofItemAtPath: locked.path)
            let r = try await engine.run(recipe, params: [:], options: RunOptions())
            #expect(r.status == .failed)
        }
    }
}

/// A pure kind whose first run appends to its input file (as a tool that rewrites its input would).
struct MutatingReaderKind: StepKind {
    final class Counter: Sendable { let value = Mutex(0) }
    let runs = Counter()
    static let configuration = StepKindConfiguration(
        name: "test.mutate", version: 1, category: .pure, summary: "reads a file, the first time also appends to it")
    struct Inputs: StepInputs {
        @Input(.path, "a file") var source: String
    }
    struct Outputs: StepOutputs {
        @Output("bytes seen") var bytes: Int
    }

    func run(_ inputs: Inputs, _ ctx: StepContext) async throws -> Outputs {
        let first = runs.value.withLock { n -> Bool in
            n += 1
            return n == 1
        }
        let path = inputs.source
        if first {
            let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            try h.seekToEnd()
            try h.write(contentsOf: Data("more".utf8))
            try h.close()
        }
        var outputs = Outputs()
        outputs.bytes = try Data(contentsOf: URL(fileURLWithPath: path)).count
        return outputs
    }
}

@Suite struct DeferredFingerprintTests {
    @Test("A first run hashes its path inputs after the step; an input changed during the run makes the next run rerun")
    func inputChangedDuringFirstRun() async throws {
        let dir = try TestPaths.makeTemporaryDirectory("sous-deferred-fp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("input.txt")
        try Data("hello".utf8).write(to: file)
        // Give the file an old mtime, so the append below changes it even on a coarse clock.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 1_000_000)], ofItemAtPath: file.path)
        let kind = MutatingReaderKind()
        let engine = Engine(registry: StepRegistry([kind]), workspaceRoot: dir.appendingPathComponent("ws").path, reporter: EventLog())
        let recipe = try RecipeLoader(kinds: StepRegistry([kind]).schemas).parse(
            text: "steps:\n  - id: read\n    uses: test.mutate\n    with: {source: \(file.path)}\n", path: "r.yaml", defaultName: "r")
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        // The content the step saw is not what is on disk now: the record must not claim it is up to date.
        let plan = try await engine.plan(recipe, params: [:], options: RunOptions())
        #expect(plan[0].willRun == true)
        #expect(plan[0].reason.contains("contents of input 'source'"))
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 2)
        // The second run left the file alone: now it is up to date, and stays so when merely touched.
        #expect(try await engine.run(recipe, params: [:], options: RunOptions()).status == .succeeded)
        #expect(kind.runs.value.withLock { $0 } == 2)
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 5_000_000)], ofItemAtPath: file.path)
        #expect(try await engine.plan(recipe, params: [:], options: RunOptions())[0].willRun == false)
    }
}
