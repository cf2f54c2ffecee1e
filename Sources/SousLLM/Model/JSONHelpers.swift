import Foundation

/// Reads a JSON object file with Foundation's parser (tolerant of large tokenizer vocabularies).
func readJSONObject(_ path: String) throws -> [String: Any] {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw LLMError.missingFile(path)
    }
    return try parseJSONObject(data, file: path)
}

func parseJSONObject(_ data: Data, file: String) throws -> [String: Any] {
    let any: Any
    do {
        any = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    } catch {
        throw LLMError.invalidJSON(file: file, reason: "it does not parse as JSON")
    }
    guard let object = any as? [String: Any] else {
        throw LLMError.invalidJSON(file: file, reason: "the top level is not an object")
    }
    return object
}

/// Numeric coercion for JSONSerialization values (NSNumber bridges to any numeric type).
func jsonInt(_ value: Any?) -> Int? {
    if let n = value as? NSNumber, !(value is Bool) { return n.intValue }
    if let i = value as? Int { return i }
    if let d = value as? Double { return Int(d) }
    return nil
}

func jsonDouble(_ value: Any?) -> Double? {
    if let n = value as? NSNumber { return n.doubleValue }
    if let d = value as? Double { return d }
    if let i = value as? Int { return Double(i) }
    return nil
}

func jsonBool(_ value: Any?) -> Bool? {
    if let b = value as? Bool { return b }
    if let n = value as? NSNumber { return n.boolValue }
    return nil
}

/// An int or a list of ints (eos_token_id may be either).
func jsonIntList(_ value: Any?) -> [Int] {
    if let i = jsonInt(value) { return [i] }
    if let list = value as? [Any] { return list.compactMap { jsonInt($0) } }
    return []
}
