public import Foundation
import Synchronization
#if canImport(FoundationXML)
    import FoundationXML
#endif

/// A run's `record.html` parsed as XML (sous writes it XHTML-compatible), for assertions on its structure.
public struct RecordPage: Sendable {
    /// One element, with all the text inside it.
    public struct Element: Sendable {
        public var name: String
        public var attributes: [String: String]
        public var text: String
        /// The names of the enclosing elements, outermost first.
        public var ancestors: [String]
        /// The element's classes.
        public var classes: [String] { (attributes["class"] ?? "").split(separator: " ").map(String.init) }
        /// The `data-step` of the element or of the nearest enclosing element holding one (the step cell).
        public var step: String?
    }

    public let source: String
    /// Every element, in document order.
    public let elements: [Element]

    /// Parses `source`; throws when it is not well-formed.
    public init(_ source: String) throws {
        self.source = source
        let collector = Collector()
        let parser = XMLParser(data: Data(source.utf8))
        parser.delegate = collector
        guard parser.parse() else {
            let e = parser.parserError.map { "\($0)" } ?? "unknown"
            throw TestServerError(message: "record.html is not well-formed XML at line \(parser.lineNumber), column \(parser.columnNumber): \(e)")
        }
        elements = collector.done.sorted { $0.0 < $1.0 }.map(\.1)
    }

    public init(contentsOf url: URL) throws {
        try self.init(try String(contentsOf: url, encoding: .utf8))
    }

    /// Elements named `name` (and holding `class`, when given).
    public func all(_ name: String, class cls: String? = nil) -> [Element] {
        elements.filter { $0.name == name && (cls == nil || $0.classes.contains(cls!)) }
    }

    /// Every `src` and `href` value in the page.
    public var references: [String] { elements.flatMap { e in ["src", "href"].compactMap { e.attributes[$0] } } }

    /// Collects elements as the parser ends them (numbered in start order).
    private final class Collector: NSObject, XMLParserDelegate {
        var open: [(index: Int, element: Element)] = []
        var done: [(Int, Element)] = []
        var count = 0

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let step = attributes["data-step"] ?? open.last?.element.step
            open.append((count, Element(name: name, attributes: attributes, text: "", ancestors: open.map(\.element.name), step: step)))
            count += 1
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            for i in open.indices { open[i].element.text += string }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            guard let last = open.popLast() else { return }
            done.append((last.index, last.element))
        }
    }
}

/// Tests/python/report_browser_check.py: loads a page in the system Chromium driven by Playwright and fails
/// on console errors, page errors, failed or outside requests, or a chart that is not drawn.
public enum BrowserCheck {
    /// `/usr/bin/chromium` (or `$SOUS_CHROMIUM`) exists and Python can `import playwright`.
    public static let available: Bool = {
        let chromium = ProcessInfo.processInfo.environment["SOUS_CHROMIUM"] ?? "/usr/bin/chromium"
        guard FileManager.default.isExecutableFile(atPath: chromium) else { return false }
        return (try? runPython(["-c", "import playwright.sync_api"]).status) == 0
    }()

    /// What the script saw: `steps`, `marks` (token marks per chart), `ttft`, `status`, `problems`.
    public struct Outcome: @unchecked Sendable {
        // @unchecked: the JSON object is created once and only read.
        public var status: Int32
        public var result: [String: Any]
        public var output: String
    }

    /// Loads `page` (light, or dark with `dark`) and saves a full-page screenshot to `screenshot`.
    public static func run(page: URL, screenshot: URL, dark: Bool = false) throws -> Outcome {
        let script = TestPaths.packageRoot.appendingPathComponent("Tests/python/report_browser_check.py").path
        let r = try runPython([script, page.path, screenshot.path] + (dark ? ["--dark"] : []))
        let line = r.stdout.split(separator: "\n").last { $0.hasPrefix("RESULT ") }
        let result = line.flatMap { try? JSONSerialization.jsonObject(with: Data($0.dropFirst(7).utf8)) as? [String: Any] } ?? [:]
        return Outcome(status: r.status, result: result, output: r.stdout + r.stderr)
    }
}

/// Runs `python3 args…` to completion (both pipes drained as it runs) and returns its status and output.
public func runPython(_ args: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = [TestPaths.python] + args
    p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let errData = Mutex(Data())
    let drain = Thread { errData.withLock { $0 = err.fileHandleForReading.readDataToEndOfFile() } }
    drain.start()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    _ = waitUntil(timeout: 10) { drain.isFinished }
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.withLock { $0 }, as: UTF8.self))
}
