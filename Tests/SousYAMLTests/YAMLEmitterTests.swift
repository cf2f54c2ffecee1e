import Foundation
import SousYAML
import Testing

/// ``YAMLEmitter``: what it writes reads back as the same tree (keys in order, scalars with the
/// same text and the same plain-or-quoted reading).
@Suite struct YAMLEmitterTests {
    /// A node's content without positions; a scalar is its text, tag and whether it is plain
    /// (plain scalars may read as numbers, booleans or null; quoted ones are always strings).
    indirect enum Shape: Equatable {
        case scalar(String, tag: String?, plain: Bool)
        case sequence([Shape])
        case mapping([Shape])

        init(_ node: YAMLNode) {
            switch node {
            case .scalar(let text, let style, let tag, _): self = .scalar(text, tag: tag, plain: style == .plain)
            case .sequence(let items, _): self = .sequence(items.map(Shape.init))
            case .mapping(let pairs, _): self = .mapping(pairs.flatMap { [Shape($0.key), Shape($0.value)] })
            }
        }
    }

    static let sample = """
        name: demo
        count: 8
        quoted: "8"
        empty: ""
        nothing:
        flag: true
        tagged: !!str 12
        special: "a: b # not a comment"
        multi: |
          line one
            indented
          line three
        folded: >
          folded text
          continues
        escaped: "tab\\there\\nnewline"
        list: [1, two, "3"]
        nested:
          - {id: a, with: {x: [], y: {}}}
          - id: b
            uses: print
        "key with: colon": value
        unicode: "café ☕"
        """

    @Test func blockOutputReadsBackAsTheSameTree() throws {
        let node = try #require(try YAMLParser.parse(Self.sample))
        let text = try YAMLEmitter.emit(node)
        let again = try #require(try YAMLParser.parse(text))
        #expect(Shape(again) == Shape(node), "\(text)")
        #expect(text.hasPrefix("name: demo\ncount: 8\nquoted: \"8\"\n"), "\(text)")
        #expect(text.contains("multi: |\n  line one\n    indented\n  line three\n"), "\(text)")
    }

    @Test func everyShippedRecipeRoundTrips() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("recipes")
        let files = try FileManager.default.subpathsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".yaml") }
        #expect(files.count >= 10)
        for file in files {
            let source = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            guard let node = try YAMLParser.parse(source) else { continue }
            let again = try YAMLParser.parse(try YAMLEmitter.emit(node))
            #expect(again.map(Shape.init) == Shape(node), "\(file)")
        }
    }

    @Test func flowOutputIsOneLine() throws {
        let node = try #require(try YAMLParser.parse("default: |\n  two\n  lines\n"))
        let text = try YAMLEmitter.emit(node, flow: true)
        #expect(text == #"{default: "two\nlines\n"}"#)
        guard case .mapping(let pairs, _)? = try YAMLParser.parse(text) else { Issue.record("not a map"); return }
        #expect(pairs.first?.value.scalarText == "two\nlines\n")
        let list = try #require(try YAMLParser.parse("[a, 'b c', {k: 1}]"))
        #expect(try YAMLEmitter.emit(list, flow: true) == "[a, 'b c', {k: 1}]")
        let empty = try #require(try YAMLParser.parse("k:\n"))
        #expect(try YAMLEmitter.emit(empty, flow: true) == "{k: null}")
    }
}
