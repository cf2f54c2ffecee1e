import Foundation
import SousEngine
import SousTestSupport
import Testing

/// `WorkspaceLayout.confinedPath`: a path a step writes stays inside the recipe's work folder, on the
/// real path.
@Suite struct ConfinedPathTests {
    let root: URL
    let layout: WorkspaceLayout

    init() throws {
        root = try TestPaths.makeTemporaryDirectory("sous-confined")
        layout = WorkspaceLayout(root: root.appendingPathComponent("workspace").path, recipe: "r")
        try FileManager.default.createDirectory(atPath: layout.workDir, withIntermediateDirectories: true)
    }

    func refusal(_ path: String) -> String? {
        do {
            _ = try layout.confinedPath(path)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func insideIsResolvedAsWritten() throws {
        #expect(try layout.confinedPath("a/b.txt") == layout.workDir + "/a/b.txt")
        #expect(try layout.confinedPath("a/../b.txt") == layout.workDir + "/b.txt")
        #expect(try layout.confinedPath(".") == layout.workDir)
        #expect(try layout.confinedPath(layout.workDir + "/x") == layout.workDir + "/x")
    }

    @Test func leavingTheWorkFolderIsRefusedEvenInsideTheWorkspace() {
        for path in ["../state.json", "../../.sous/trusted-commands", "../../other/work/x", "a/../../x", "/etc/passwd", layout.root + "/.sous/key"] {
            #expect(refusal(path)?.contains("leaves the recipe's work folder (\(layout.workDir))") == true, "\(path)")
        }
    }

    @Test func symbolicLinksAreFollowed() throws {
        let outside = root.appendingPathComponent("outside").path
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: layout.workDir + "/out", withDestinationPath: outside)
        try fm.createSymbolicLink(atPath: layout.workDir + "/ws", withDestinationPath: layout.root)
        try fm.createSymbolicLink(atPath: layout.workDir + "/nowhere", withDestinationPath: outside + "/missing/file")
        try fm.createDirectory(atPath: layout.workDir + "/real", withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: layout.workDir + "/alias", withDestinationPath: "real")
        #expect(refusal("out/x.txt")?.contains("through a symbolic link") == true)
        #expect(refusal("out")?.contains("through a symbolic link") == true)
        #expect(refusal("ws/.sous/trusted-commands")?.contains("through a symbolic link") == true)
        #expect(refusal("nowhere")?.contains("points nowhere") == true)
        #expect(refusal("nowhere/deeper/x")?.contains("points nowhere") == true)
        #expect(try layout.confinedPath("alias/x.txt") == layout.workDir + "/alias/x.txt")
    }
}
