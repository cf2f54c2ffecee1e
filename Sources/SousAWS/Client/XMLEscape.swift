import Foundation

/// XML text escaping for request bodies.
enum XMLEscape {
    static func text(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\r": out += "&#13;"
            case "\n": out += "&#10;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}
