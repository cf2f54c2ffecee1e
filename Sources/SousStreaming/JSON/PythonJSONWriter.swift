/// Writes JSON the way Python's `json.dumps(obj)` does: `", "` and `": "` separators, non-ASCII as `\uXXXX`.
struct PythonJSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ s: String) { bytes.append(contentsOf: s.utf8) }

    mutating func key(_ k: String) {
        string(k)
        raw(": ")
    }

    /// Python's `repr(float)`: shortest round-trip digits, `.0` on integral values, exponent from 1e16.
    mutating func double(_ v: Double) {
        raw(v.description)
    }

    mutating func string(_ s: String) {
        bytes.append(0x22)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for unit in s.utf16 {
            switch unit {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0x08: raw("\\b")
            case 0x0C: raw("\\f")
            case 0x20...0x7E: bytes.append(UInt8(unit))
            default:
                bytes += [0x5C, 0x75, hex[Int(unit >> 12)], hex[Int((unit >> 8) & 0xF)], hex[Int((unit >> 4) & 0xF)], hex[Int(unit & 0xF)]]
            }
        }
        bytes.append(0x22)
    }
}
