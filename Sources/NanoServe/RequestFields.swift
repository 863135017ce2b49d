import NanoCheckpoint

/// Typed reads of a JSON request body's fields: a field of the wrong type is an `APIError` whose
/// `param` names it. Absent and `null` fields read as nil; fields nanoforge does not know are ignored,
/// as OpenAI-compatible servers ignore them.
struct RequestFields {
    let members: [(key: String, value: JSONValue)]

    /// The body parsed as a JSON object.
    init(body: [UInt8]) throws {
        let value: JSONValue
        do { value = try JSONParser.parse(body) } catch let e as JSONParser.Error {
            throw APIError.malformedJSON(e.description)
        }
        guard let members = value.members else {
            throw APIError(status: 400, message: "the request body must be a JSON object", code: "invalid_json")
        }
        self.members = members
    }

    subscript(key: String) -> JSONValue? {
        guard let v = members.first(where: { $0.key == key })?.value, v != .null else { return nil }
        return v
    }

    func string(_ key: String) throws -> String? {
        guard let v = self[key] else { return nil }
        guard let s = v.string else { throw APIError.wrongType(key, expected: "a string") }
        return s
    }

    func requiredString(_ key: String) throws -> String {
        guard let s = try string(key) else { throw APIError.missing(key) }
        return s
    }

    func bool(_ key: String) throws -> Bool? {
        guard let v = self[key] else { return nil }
        guard let b = v.bool else { throw APIError.wrongType(key, expected: "a boolean") }
        return b
    }

    func number(_ key: String) throws -> Double? {
        guard let v = self[key] else { return nil }
        guard let n = v.number else { throw APIError.wrongType(key, expected: "a number") }
        return n
    }

    func int(_ key: String) throws -> Int? {
        guard let v = self[key] else { return nil }
        guard let n = v.int else { throw APIError.wrongType(key, expected: "an integer") }
        return n
    }

    /// A string or an array of strings (`stop`).
    func strings(_ key: String) throws -> [String]? {
        guard let v = self[key] else { return nil }
        if let s = v.string { return [s] }
        let all = v.array?.compactMap(\.string)
        guard let all, all.count == v.array?.count else { throw APIError.wrongType(key, expected: "a string or an array of strings") }
        return all
    }
}

/// One prompt or input as OpenAI accepts it: text, or token ids.
enum TextOrTokens: Equatable {
    case text(String)
    case tokens([Int])

    /// `value` as a list of prompts: a string, an array of strings, an array of token ids, or an
    /// array of arrays of token ids. Empty lists are refused.
    static func list(_ value: JSONValue, param: String) throws -> [TextOrTokens] {
        let expected = "a string, an array of strings, an array of token ids or an array of token-id arrays"
        if let s = value.string { return [.text(s)] }
        guard let items = value.array else { throw APIError.wrongType(param, expected: expected) }
        guard !items.isEmpty else { throw APIError.invalidValue(param, "must not be empty") }
        if items.allSatisfy({ $0.string != nil }) { return items.map { .text($0.string!) } }
        if let ids = tokenIDs(items) { return [.tokens(ids)] }
        let rows = items.map { $0.array.flatMap(tokenIDs) }
        guard rows.allSatisfy({ $0 != nil && !$0!.isEmpty }) else { throw APIError.wrongType(param, expected: expected) }
        return rows.map { .tokens($0!) }
    }

    private static func tokenIDs(_ items: [JSONValue]) -> [Int]? {
        let ids = items.compactMap(\.int)
        return ids.count == items.count && ids.allSatisfy({ $0 >= 0 }) ? ids : nil
    }
}
