import Foundation
import SousRecipe

/// What `record.html` shows: the run recorder's data, every string in it already redacted.
struct RunRecordPage {
    /// A ledger resource this run created, or an earlier run's resource that this run deleted.
    struct Resource {
        var type: String
        var name: String
        var arn: String?
        var step: String
        var state: LedgerEntry.State
        /// False for an earlier run's resource that this run deleted.
        var createdInRun: Bool
    }

    var recipe: String
    var recipePath: String
    var runID: String
    var status: String
    var started: Date
    /// Seconds from the start of the run to the time of writing (its end, once finished).
    var duration: Double
    /// Where the AWS calls went (`local (http://127.0.0.1:…)`, `AWS (us-east-1)`), when known.
    var cloud: String?
    var error: String?
    var steps: [RunRecorder.Entry]
    var resources: [Resource]
}

/// The run record as one self-contained page laid out like an executed notebook: a header, the
/// resources the run created, then one cell per step (why it ran, inputs, output, outputs, error), with
/// `serving.properties` files shown and each streamed answer charted token by token.
///
/// The page is HTML5 that is also well-formed XML (void elements self-closed, only XML's entities) with
/// inline CSS and SVG: no script, nothing loaded from the network, readable in light and dark mode.
func runRecordHTML(_ page: RunRecordPage) -> String {
    var out = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <meta name="generator" content="sous"/>
        <title>\(htmlEscape("\(page.recipe) · run \(page.runID) · \(page.status)"))</title>
        <style>\(RecordStyle.css)</style>
        </head>
        <body>
        <main>

        """
    out += RecordSections.header(page)
    if !page.resources.isEmpty { out += RecordSections.resources(page.resources) }
    out += "<h2 class=\"section\">Steps</h2>\n"
    if page.steps.isEmpty { out += "<p class=\"muted\">No step has finished yet.</p>\n" }
    for (i, entry) in page.steps.enumerated() { out += RecordSections.cell(i + 1, entry) }
    out += """
        <footer>Recorded by sous. The same run as text: <a href="record.md">record.md</a> · \
        <a href="record.json">record.json</a> · <a href="logs/">logs/</a></footer>
        </main>
        </body>
        </html>

        """
    return out
}

/// `text` made safe for HTML and XML text and quoted attribute values: the five markup characters become
/// entities, and control characters (invalid in XML, invisible in HTML) caret notation as `cat -v` shows
/// them (`^[` for ESC).
func htmlEscape(_ text: String) -> String {
    let plain = !text.utf8.contains { b in
        b == UInt8(ascii: "&") || b == UInt8(ascii: "<") || b == UInt8(ascii: ">") || b == UInt8(ascii: "\"")
            || b == UInt8(ascii: "'") || (b < 0x20 && b != 0x0A && b != 0x09) || b == 0x7F || b == 0xEF
    }
    if plain { return text }
    var out = String.UnicodeScalarView()
    for u in text.unicodeScalars {
        switch u {
        case "&": out.append(contentsOf: "&amp;".unicodeScalars)
        case "<": out.append(contentsOf: "&lt;".unicodeScalars)
        case ">": out.append(contentsOf: "&gt;".unicodeScalars)
        case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
        case "'": out.append(contentsOf: "&#39;".unicodeScalars)
        case "\t", "\n", "\r": out.append(u)
        case _ where u.value < 0x20: out.append(contentsOf: ["^", Unicode.Scalar(UInt8(u.value) + 0x40)])
        case "\u{7F}": out.append(contentsOf: "^?".unicodeScalars)
        case "\u{FFFE}", "\u{FFFF}": out.append("\u{FFFD}")
        default: out.append(u)
        }
    }
    return String(out)
}

// MARK: - sections

private enum RecordSections {
    static func header(_ page: RunRecordPage) -> String {
        let counts = ["ran", "skipped", "failed"].map { s in (s, page.steps.filter { $0.status == s }.count) }
        var facts: [(String, String)] = [
            ("run", "<code>\(htmlEscape(page.runID))</code>"),
            ("started", "<time datetime=\"\(htmlEscape(iso(page.started)))\">\(htmlEscape(readableDate(page.started)))</time>"),
            ("duration", htmlEscape(Format.seconds(page.duration) + (page.status == "running" ? " so far" : ""))),
        ]
        if let cloud = page.cloud { facts.append(("cloud", htmlEscape(cloud))) }
        facts.append(("steps", counts.map { "\($0.1) \($0.0)" }.joined(separator: " · ")))
        facts.append(("recipe file", "<code>\(htmlEscape(page.recipePath))</code>"))
        var out = """
            <header class="run">
            <div class="title"><h1>\(htmlEscape(page.recipe))</h1> <span class="badge st-\(cssClass(page.status))" id="run-status">\(htmlEscape(page.status))</span></div>
            <dl class="facts">

            """
        for (k, v) in facts { out += "<div><dt>\(k)</dt><dd>\(v)</dd></div>\n" }
        out += "</dl>\n"
        if let error = page.error {
            // The failed step's cell holds the whole message; the header shows its first line.
            let first = String(error.prefix { $0 != "\n" })
            var line = htmlEscape(first)
            if first.count < error.count {
                if let failed = page.steps.last(where: { $0.status == "failed" }) {
                    line += " <a href=\"#step-\(htmlEscape(failed.step))\">(more in the step)</a>"
                } else {
                    line += "…"
                }
            }
            out += "<p class=\"error\">\(line)</p>\n"
        }
        return out + "</header>\n"
    }

    static func resources(_ list: [RunRecordPage.Resource]) -> String {
        let live = list.filter { $0.state != .deleted }.count
        let created = list.filter(\.createdInRun).count
        var out = """
            <section class="resources" id="resources">
            <h2 class="section">Resources</h2>
            <p class="muted">\(created) created in this run · \(list.count - live) deleted · \
            <strong class="\(live > 0 ? "warn" : "ok")">\(live) still exist\(live == 1 ? "s" : "")</strong> at the end of the run</p>
            <div class="scroll"><table class="grid">
            <thead><tr><th>kind</th><th>name</th><th>ARN</th><th>step</th><th>at the end</th></tr></thead>
            <tbody>

            """
        for r in list {
            let state: String
            switch r.state {
            case .created: state = "<span class=\"badge live\">exists</span>"
            case .deleted: state = "<span class=\"badge gone\">deleted</span>"
            case .intent: state = "<span class=\"badge live\">unconfirmed</span> <span class=\"muted\">(the create call never answered)</span>"
            }
            let origin = r.createdInRun ? "" : " <span class=\"muted\">(made by an earlier run)</span>"
            out += "<tr><td class=\"nowrap\"><code>\(htmlEscape(r.type))</code></td><td><code>\(htmlEscape(r.name))</code></td>"
            out += "<td>\(r.arn.map { "<code class=\"arn\">\(htmlEscape($0))</code>" } ?? "<span class=\"muted\">—</span>")</td>"
            out += "<td><a href=\"#step-\(htmlEscape(r.step))\">\(htmlEscape(r.step))</a></td><td class=\"nowrap\">\(state)\(origin)</td></tr>\n"
        }
        return out + "</tbody></table></div>\n</section>\n"
    }

    static func cell(_ index: Int, _ e: RunRecorder.Entry) -> String {
        let status = cssClass(e.status)
        var head = "<span class=\"sid\">\(htmlEscape(e.step))</span>"
        if let title = e.title { head += " <span class=\"stitle\">\(htmlEscape(title))</span>" }
        head += " <code class=\"kind\">\(htmlEscape(e.kind))</code><span class=\"fill\"></span>"
        if let d = e.duration { head += "<span class=\"dur\">\(htmlEscape(Format.seconds(d)))</span>" }
        head += "<span class=\"badge \(status)\">\(htmlEscape(e.status))</span>"
        if let log = e.log { head += " <a class=\"log\" href=\"\(htmlEscape(log))\">log</a>" }
        var input = "<div class=\"head\">\(head)</div>\n<p class=\"why\"><span class=\"muted\">why:</span> \(htmlEscape(e.reason))</p>\n"
        if let inputs = e.inputs, !inputs.isEmpty { input += table(inputs, class: "inputs") }

        var output = ""
        let stream = e.status == "ran" ? e.outputs.flatMap(StreamFigures.init) : nil
        if let t = e.transcript, t.trimmingCharacters(in: .whitespacesAndNewlines) != stream?.text.trimmingCharacters(in: .whitespacesAndNewlines) {
            output += "<pre class=\"transcript\">\(htmlEscape(t))</pre>\n"
        }
        if let f = e.file { output += file(f) }
        if let stream { output += streamPanel(stream, step: e.step) }
        if let outputs = e.outputs, !outputs.isEmpty {
            output += "<div class=\"label\">\(e.status == "skipped" ? "outputs (recorded by an earlier run)" : "outputs")</div>\n"
            output += table(outputs, class: "outputs")
        }
        if let err = e.error { output += "<pre class=\"error\">\(htmlEscape(err))</pre>\n" }

        var out = """
            <section class="cell \(status)" id="step-\(htmlEscape(e.step))" data-step="\(htmlEscape(e.step))" data-status="\(htmlEscape(e.status))">
            <div class="row in"><div class="prompt">In&#160;[\(index)]:</div><div class="area">
            \(input)</div></div>

            """
        if !output.isEmpty {
            out += "<div class=\"row out\"><div class=\"prompt\">Out[\(index)]:</div><div class=\"area\">\n\(output)</div></div>\n"
        }
        return out + "</section>\n"
    }

    static func table(_ values: ValueMap, class name: String) -> String {
        var out = "<table class=\"kv \(name)\"><tbody>\n"
        for x in values { out += "<tr><th>\(htmlEscape(x.key))</th><td>\(value(x.value))</td></tr>\n" }
        return out + "</tbody></table>\n"
    }

    /// A value inline, or folded in a `<details>` when it is long or spans lines.
    static func value(_ v: Value) -> String {
        let text: String
        switch v {
        case .null: return "<span class=\"muted\">null</span>"
        case .string(let s): text = s
        default: text = v.jsonString()
        }
        if text.count <= 160 && !text.contains("\n") { return "<code>\(htmlEscape(text))</code>" }
        let full: String
        let size: String
        switch v {
        case .list(let items):
            full = items.allSatisfy({ $0.doubleValue != nil }) ? items.map(\.interpolationText).joined(separator: ", ") : v.jsonString(pretty: true)
            size = "\(items.count) items"
        case .map(let m):
            full = v.jsonString(pretty: true)
            size = "\(m.count) keys"
        default:
            full = text
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
            size = lines > 1 ? "\(lines) lines" : "\(text.count) characters"
        }
        let firstLine = text.prefix { $0 != "\n" }
        let preview = firstLine.count > 90 ? String(firstLine.prefix(90)) : String(firstLine)
        return "<details><summary><code>\(htmlEscape(preview))…</code> <span class=\"muted\">\(size)</span></summary><pre>\(htmlEscape(full))</pre></details>"
    }

    /// A recorded file (`serving.properties`), `key=value` lines tinted.
    static func file(_ f: RunRecorder.RecordedFile) -> String {
        let name = (f.path as NSString).lastPathComponent
        var body = ""
        for line in f.text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("#") || line.hasPrefix("!") {
                body += "<span class=\"c\">\(htmlEscape(String(line)))</span>\n"
            } else if let eq = line.firstIndex(of: "=") {
                body += "<span class=\"k\">\(htmlEscape(String(line[..<eq])))</span>=<span class=\"v\">\(htmlEscape(String(line[line.index(after: eq)...])))</span>\n"
            } else {
                body += htmlEscape(String(line)) + "\n"
            }
        }
        while body.hasSuffix("\n\n") { body.removeLast() }
        return """
            <figure class="file"><figcaption><code>\(htmlEscape(name))</code> <span class="muted">\(htmlEscape(f.path))\(f.truncated ? " (first part)" : "")</span></figcaption>
            <pre>\(body)</pre></figure>

            """
    }

    static func streamPanel(_ s: StreamFigures, step: String) -> String {
        var stats: [(String, String, String)] = []
        if let t = s.ttftMs { stats.append(("ttft", Format.ms(t), "time to first token")) }
        if let tps = s.tokensPerSecond { stats.append(("tps", String(format: "%.1f", tps), "tokens/s after the first")) }
        stats.append(("tokens", "\(s.tokens)", "tokens"))
        if let gap = s.largestGap {
            stats.append(("gap", Format.ms(gap.ms), s.sampled ? "largest gap between sampled tokens" : "largest gap between tokens"))
        }
        if let last = s.arrivals.last { stats.append(("total", Format.ms(last), "last token")) }
        if let reason = s.finishReason { stats.append(("finish", reason, "finish reason")) }
        var out = "<div class=\"stream\" id=\"stream-\(htmlEscape(step))\">\n<div class=\"label\">streamed answer</div>\n<div class=\"stats\">\n"
        for (key, number, label) in stats {
            out += "<div class=\"stat\"><span class=\"num\" data-stat=\"\(key)\">\(htmlEscape(number))</span><span class=\"lbl\">\(label)</span></div>\n"
        }
        out += "</div>\n"
        if s.arrivals.isEmpty {
            out += "<p class=\"muted\">No token timing was recorded for this answer.</p>\n"
        } else {
            out += TokenChart.svg(s)
        }
        out += "<pre class=\"answer\">\(htmlEscape(s.text))</pre>\n</div>\n"
        return out
    }

    static func cssClass(_ status: String) -> String {
        String(status.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    static func iso(_ d: Date) -> String { ISO8601DateFormatter().string(from: d) }

    static func readableDate(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: d)
    }
}

// MARK: - streamed answers

/// The figures of one streamed answer, from an invoke step's outputs (`text`, `arrivals_ms`, …).
struct StreamFigures {
    /// The step lists at most this many arrivals (`InvokeStreamKind.arrivalLimit`); a full list of a longer
    /// answer holds evenly spaced tokens.
    static let arrivalLimit = 2000

    var text: String
    /// Milliseconds from the request to each charted token.
    var arrivals: [Double]
    /// Tokens in the answer (at least the charted ones).
    var tokens: Int
    var ttftMs: Double?
    var tokensPerSecond: Double?
    var finishReason: String?
    /// The arrivals are a sample of a longer answer.
    var sampled: Bool
    /// The longest wait between two consecutive charted tokens (`index` is the earlier one).
    var largestGap: (index: Int, ms: Double)?

    init?(_ outputs: ValueMap) {
        guard let list = outputs["arrivals_ms"]?.listValue else { return nil }
        text = outputs["text"]?.stringValue ?? ""
        arrivals = list.compactMap(\.doubleValue)
        let counted = outputs["tokens"]?.intValue ?? 0
        sampled = arrivals.count >= Self.arrivalLimit && counted > arrivals.count
        tokens = max(counted, arrivals.count)
        ttftMs = outputs["time_to_first_token_s"]?.doubleValue.map { $0 * 1000 } ?? arrivals.first
        tokensPerSecond = outputs["tokens_per_second"]?.doubleValue
        finishReason = outputs["finish_reason"]?.stringValue
        if arrivals.count > 1 {
            var best = (index: 0, ms: arrivals[1] - arrivals[0])
            for i in 1..<(arrivals.count - 1) where arrivals[i + 1] - arrivals[i] > best.ms {
                best = (i, arrivals[i + 1] - arrivals[i])
            }
            largestGap = best
        }
    }

    /// Tokens received once charted token `j` arrived (exact unless `sampled`).
    func count(at j: Int) -> Double {
        guard sampled, arrivals.count > 1 else { return Double(j + 1) }
        return (Double(j) * Double(tokens - 1) / Double(arrivals.count - 1)).rounded() + 1
    }
}

/// An SVG step chart of tokens received over time: one mark per token, the first token and the largest
/// gap highlighted.
private enum TokenChart {
    static let width = 640.0, height = 230.0
    static let left = 50.0, right = 612.0, top = 14.0, bottom = 190.0

    static func svg(_ s: StreamFigures) -> String {
        let lastMs = s.arrivals.last ?? 0
        let xStep = niceStep(max(lastMs, 1), ticks: 5)
        let xMax = max(xStep, (lastMs / xStep).rounded(.up) * xStep)
        let yMaxRaw = s.count(at: s.arrivals.count - 1)
        let yStep = max(1, niceStep(yMaxRaw, ticks: 4).rounded())
        let yMax = max(yStep, (yMaxRaw / yStep).rounded(.up) * yStep)
        func x(_ ms: Double) -> Double { left + (right - left) * ms / xMax }
        func y(_ n: Double) -> Double { bottom - (bottom - top) * n / yMax }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        let summary = "\(s.tokens) tokens over \(Format.ms(lastMs)); first after \(s.ttftMs.map(Format.ms) ?? "-")"
        var out = """
            <figure class="chart">
            <svg class="tokens" viewBox="0 0 \(Int(width)) \(Int(height))" width="\(Int(width))" height="\(Int(height))" role="img" aria-label="\(htmlEscape(summary))">
            <title>\(htmlEscape("Tokens received over time: " + summary))</title>

            """
        // Grid and axes.
        out += "<g class=\"grid\">"
        var t = 0.0
        while t <= xMax + xStep / 2 {
            out += "<line x1=\"\(f(x(t)))\" y1=\"\(f(top))\" x2=\"\(f(x(t)))\" y2=\"\(f(bottom))\"/>"
            t += xStep
        }
        var n = 0.0
        while n <= yMax + yStep / 2 {
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y(n)))\" x2=\"\(f(right))\" y2=\"\(f(y(n)))\"/>"
            n += yStep
        }
        out += "</g>\n<g class=\"axis\">"
        t = 0
        while t <= xMax + xStep / 2 {
            out += "<text x=\"\(f(x(t)))\" y=\"\(f(bottom + 15))\" text-anchor=\"middle\">\(htmlEscape(Format.axis(t, step: xStep)))</text>"
            t += xStep
        }
        n = 0
        while n <= yMax + yStep / 2 {
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(y(n) + 4))\" text-anchor=\"end\">\(Int(n))</text>"
            n += yStep
        }
        out += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">time since the request</text>"
        out += "<text x=\"12\" y=\"\(f((top + bottom) / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 12 \(f((top + bottom) / 2)))\">tokens</text>"
        out += "</g>\n"

        // The largest gap, then the first token.
        if let gap = s.largestGap, gap.ms > 0 {
            let x0 = x(s.arrivals[gap.index]), x1 = x(s.arrivals[gap.index + 1])
            out += "<rect class=\"gap\" x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(max(x1 - x0, 1)))\" height=\"\(f(bottom - top))\">"
            out += "<title>\(htmlEscape("largest gap: \(Format.ms(gap.ms)) after token \(Int(s.count(at: gap.index)))"))</title></rect>\n"
            let onRight = x1 > (left + right) / 2
            out += "<text class=\"gap-label\" x=\"\(f(onRight ? x0 - 4 : x1 + 4))\" y=\"\(f(top + 25))\" text-anchor=\"\(onRight ? "end" : "start")\">largest gap \(htmlEscape(Format.ms(gap.ms)))</text>\n"
        }
        if let ttft = s.ttftMs {
            let tx = x(min(ttft, xMax))
            out += "<line class=\"ttft\" x1=\"\(f(tx))\" y1=\"\(f(top))\" x2=\"\(f(tx))\" y2=\"\(f(bottom))\"/>"
            let anchor = tx > (left + right) / 2 ? "end" : "start"
            out += "<text class=\"ttft-label\" x=\"\(f(tx + (anchor == "end" ? -4 : 4)))\" y=\"\(f(top + 11))\" text-anchor=\"\(anchor)\">first token \(htmlEscape(Format.ms(ttft)))</text>\n"
        }

        // Tokens so far: a step line from the request, its area, one mark per token.
        var line = "M\(f(x(0))) \(f(y(0)))"
        for (j, ms) in s.arrivals.enumerated() { line += "H\(f(x(ms)))V\(f(y(s.count(at: j))))" }
        out += "<path class=\"area\" d=\"\(line)V\(f(y(0)))Z\"/>\n<path class=\"curve\" d=\"\(line)\"/>\n<g class=\"marks\">"
        let r = s.arrivals.count <= 100 ? 2.6 : s.arrivals.count <= 600 ? 1.8 : 1.2
        for (j, ms) in s.arrivals.enumerated() {
            let k = Int(s.count(at: j))
            out += "<circle class=\"tok\" cx=\"\(f(x(ms)))\" cy=\"\(f(y(Double(k))))\" r=\"\(r)\"><title>token \(k) at \(htmlEscape(Format.ms(ms)))</title></circle>"
        }
        out += "</g>\n</svg>\n"
        out += "<figcaption class=\"muted\">Tokens received over time since the request (each dot is a token\(s.sampled ? ", sampled evenly from \(s.tokens)" : ""); tokens read together share a time).</figcaption>\n</figure>\n"
        return out
    }

    /// 1, 2 or 5 times a power of ten, so that `range` spans about `ticks` steps.
    static func niceStep(_ range: Double, ticks: Int) -> Double {
        let raw = range / Double(ticks)
        let magnitude = pow(10, floor(log10(raw)))
        let f = raw / magnitude
        return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * magnitude
    }
}

// MARK: - formatting and style

private enum Format {
    /// `0.8 ms`, `42 ms`, `1.25 s`.
    static func ms(_ v: Double) -> String {
        if v < 10 { return String(format: "%.1f ms", v) }
        if v < 1000 { return String(format: "%.0f ms", v) }
        return String(format: "%.2f s", v / 1000)
    }

    /// `0.42 s`, `12.3 s`, `2 min 05 s`.
    static func seconds(_ v: Double) -> String {
        if v < 10 { return String(format: "%.2f s", v) }
        if v < 60 { return String(format: "%.1f s", v) }
        let s = Int(v.rounded())
        if s < 3600 { return String(format: "%d min %02d s", s / 60, s % 60) }
        return String(format: "%d h %02d min", s / 3600, (s % 3600) / 60)
    }

    /// An axis label in ms or s, as precise as the step needs.
    static func axis(_ ms: Double, step: Double) -> String {
        if step >= 1000 { return String(format: step.truncatingRemainder(dividingBy: 1000) == 0 ? "%.0f s" : "%.1f s", ms / 1000) }
        return step >= 1 ? String(format: "%.0f ms", ms) : String(format: "%.1f ms", ms)
    }
}

private enum RecordStyle {
    // No '<' or '&' here: the page must stay well-formed XML.
    static let css = """
        :root{color-scheme:light dark;--bg:#ffffff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--panel:#f6f8fa;\
        --code:#eff2f5;--accent:#0969da;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--skip:#6e7781;\
        --gap:rgba(207,34,46,.13);--area:rgba(9,105,218,.10)}
        @media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;\
        --panel:#151b23;--code:#212830;--accent:#4493f8;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--skip:#9198a1;\
        --gap:rgba(248,81,73,.20);--area:rgba(68,147,248,.16)}}
        *{box-sizing:border-box}
        body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
        main{max-width:1080px;margin:0 auto;padding:20px 20px 40px}
        code,pre,.kind{font-family:ui-monospace,SFMono-Regular,"SF Mono",Menlo,Consolas,"Liberation Mono",monospace;font-size:12.5px}
        code{background:var(--code);padding:1px 5px;border-radius:4px;overflow-wrap:anywhere}
        pre{margin:6px 0;padding:8px 10px;background:var(--panel);border:1px solid var(--line);border-radius:6px;\
        overflow:auto;max-height:34em;white-space:pre-wrap;overflow-wrap:anywhere}
        a{color:var(--accent)}
        .muted{color:var(--muted)}
        h1{font-size:22px;margin:0}
        h2.section{font-size:15px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:26px 0 8px;\
        border-bottom:1px solid var(--line);padding-bottom:4px}
        header.run .title{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
        dl.facts{display:flex;flex-wrap:wrap;gap:4px 22px;margin:10px 0 0}
        dl.facts div{display:flex;gap:6px;align-items:baseline}
        dt{color:var(--muted)}
        dd{margin:0}
        .badge{display:inline-block;font-size:11.5px;font-weight:600;line-height:18px;padding:0 8px;border-radius:9px;\
        border:1px solid currentColor;white-space:nowrap}
        .badge.ran,.badge.st-succeeded,.badge.gone{color:var(--ok)}
        .badge.skipped{color:var(--skip)}
        .badge.failed,.badge.st-failed{color:var(--bad)}
        .badge.st-interrupted,.badge.live{color:var(--warn)}
        .badge.st-running{color:var(--accent)}
        strong.warn{color:var(--warn)}
        strong.ok{color:var(--ok)}
        .scroll{overflow-x:auto}
        table{border-collapse:collapse}
        table.grid{width:100%;min-width:680px;font-size:13px}
        table.grid th,table.grid td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
        table.grid th{color:var(--muted);font-weight:600;white-space:nowrap}
        .nowrap,.nowrap code{white-space:nowrap;overflow-wrap:normal}
        .cell{margin:10px 0 14px}
        .row{display:grid;grid-template-columns:78px minmax(0,1fr);gap:8px}
        .prompt{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px;text-align:right;padding-top:8px;white-space:nowrap}
        .row.in .prompt{color:var(--accent)}
        .row.out .prompt{color:var(--bad);opacity:.8}
        .row.in .area{background:var(--panel);border:1px solid var(--line);border-left:3px solid var(--line);border-radius:6px;padding:6px 10px}
        .cell.ran .row.in .area{border-left-color:var(--ok)}
        .cell.failed .row.in .area{border-left-color:var(--bad)}
        .cell.skipped .row.in .area{border-left-color:var(--skip);opacity:.85}
        .row.out .area{padding:2px 0 0 2px}
        .head{display:flex;align-items:center;gap:8px;flex-wrap:wrap}
        .sid{font-weight:700}
        .stitle{color:var(--fg)}
        .kind{color:var(--muted)}
        .fill{flex:1}
        .dur{color:var(--muted);font-variant-numeric:tabular-nums}
        a.log{font-size:12px}
        p.why{margin:2px 0 4px;font-size:13px}
        table.kv{font-size:12.5px;margin:4px 0}
        table.kv th{text-align:left;font-weight:500;color:var(--muted);padding:1px 12px 1px 0;vertical-align:top;white-space:nowrap}
        table.kv td{padding:1px 0}
        table.kv pre{max-height:20em}
        details summary{cursor:pointer}
        .label{font-size:11.5px;text-transform:uppercase;letter-spacing:.05em;color:var(--muted);margin:8px 0 2px}
        pre.error{color:var(--bad);border-color:var(--bad)}
        p.error{color:var(--bad);border:1px solid var(--bad);border-radius:6px;padding:6px 10px;margin:12px 0 0;\
        font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;overflow-wrap:anywhere}
        figure{margin:6px 0}
        figure.file figcaption{font-size:12.5px}
        figure.file .k{color:var(--accent)}
        figure.file .c{color:var(--muted)}
        .stream{border:1px solid var(--line);border-radius:8px;padding:6px 12px 10px;margin:6px 0}
        .stats{display:flex;flex-wrap:wrap;gap:6px 26px;margin:4px 0 2px}
        .stat{display:flex;flex-direction:column}
        .stat .num{font-size:19px;font-weight:650;font-variant-numeric:tabular-nums}
        .stat .lbl{font-size:11.5px;color:var(--muted)}
        figure.chart svg{display:block;width:100%;max-width:760px;height:auto}
        figure.chart figcaption{font-size:12px}
        svg.tokens .grid line{stroke:var(--line);stroke-width:1}
        svg.tokens .axis text{fill:var(--muted);font-size:11px;font-family:system-ui,sans-serif}
        svg.tokens .curve{fill:none;stroke:var(--accent);stroke-width:1.6;stroke-linejoin:round}
        svg.tokens .area{fill:var(--area);stroke:none}
        svg.tokens .tok{fill:var(--accent)}
        svg.tokens .gap{fill:var(--gap)}
        svg.tokens .ttft{stroke:var(--ok);stroke-width:1.4;stroke-dasharray:4 3}
        svg.tokens .ttft-label,svg.tokens .gap-label{font-size:11px;font-family:system-ui,sans-serif;paint-order:stroke;\
        stroke:var(--bg);stroke-width:3px;stroke-linejoin:round}
        svg.tokens .ttft-label{fill:var(--ok)}
        svg.tokens .gap-label{fill:var(--bad)}
        pre.answer{background:transparent;border:none;border-left:3px solid var(--accent);border-radius:0;\
        font-family:inherit;font-size:14px;padding:2px 12px}
        footer{margin-top:28px;font-size:12.5px;color:var(--muted)}
        @media (max-width:640px){.row{grid-template-columns:minmax(0,1fr);gap:0}.prompt{text-align:left;padding:0}}
        """
}
