import Foundation
import Testing

@testable import SousYAML

/// Documents that would take exponential time or memory to use, or overflow the stack, are refused at the
/// line that crosses the limit, quickly.
@Suite struct YAMLLimitsTests {
    /// "Billion laughs": each level repeats the previous one nine times (9^9 nodes when expanded).
    static let aliasBomb = """
        a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
        """

    @Test func anAliasBombIsRefusedAtItsLineInWellUnderASecond() throws {
        let started = Date()
        let error = try #require(throws: YAMLError.self) { _ = try YAMLParser.parse(Self.aliasBomb, file: "bomb.yaml") }
        #expect(Date().timeIntervalSince(started) < 0.5)
        // 9^6 = 531441 nodes at line f passes the 100,000 limit; 9^5 = 59049 at line e does not.
        #expect(error.mark.line == 6)
        #expect(error.mark.file == "bomb.yaml")
        #expect(error.description.contains("alias"))
        #expect(error.description.contains("100000"))
    }

    @Test func aliasesWithinTheLimitStillWork() throws {
        let node = try #require(try YAMLParser.parse("base: &b {x: 1, y: [1, 2]}\none: *b\ntwo: *b\n"))
        guard case .mapping(let pairs, _) = node else { Issue.record("not a map"); return }
        #expect(pairs.count == 3)
        #expect(pairs[1].value == pairs[0].value && pairs[2].value == pairs[0].value)
    }

    @Test func nestingDeeperThanTheLimitIsRefused() throws {
        let ok = String(repeating: "[", count: YAMLLimits.maxDepth) + String(repeating: "]", count: YAMLLimits.maxDepth)
        #expect(try YAMLParser.parse(ok) != nil)
        for depth in [YAMLLimits.maxDepth + 1, 100_000] {
            let deep = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
            let started = Date()
            let error = try #require(throws: YAMLError.self) { _ = try YAMLParser.parse(deep) }
            #expect(Date().timeIntervalSince(started) < 0.5)
            #expect(error.mark == YAMLMark(line: 1, column: YAMLLimits.maxDepth + 1))
            #expect(error.description.contains("nested more than \(YAMLLimits.maxDepth) levels"))
        }
        let block = (0...YAMLLimits.maxDepth).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " end\n"
        let error = try #require(throws: YAMLError.self) { _ = try YAMLParser.parse(block) }
        #expect(error.mark.line == YAMLLimits.maxDepth + 1)
    }
}
