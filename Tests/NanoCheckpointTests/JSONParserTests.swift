import Foundation
import Testing
import NanoCheckpoint
import NanoTensor

/// The strict JSON parser used for checkpoint headers and configs.
@Suite struct JSONParserTests {
    static func parse(_ text: String, maxDepth: Int = 64) throws -> JSONValue { try JSONParser.parse(Array(text.utf8), maxDepth: maxDepth) }

    // MARK: Valid documents

    @Test func nestedDocument() throws {
        let v = try Self.parse(#" { "a" : [1, -2.5e3, true, false, null], "b": {"c": {"d": []}}, "e": {} } "#)
        #expect(v == .object([
            ("a", .array([.number(1), .number(-2500), .bool(true), .bool(false), .null])),
            ("b", .object([("c", .object([("d", .array([]))]))])),
            ("e", .object([])),
        ]))
        #expect(v["b"]?["c"]?["d"]?.array?.isEmpty == true)
        #expect(v["missing"] == nil && v["a"]?["x"] == nil)
    }

    @Test(arguments: [
        ("0", 0.0), ("-0", -0.0), ("7", 7), ("-12", -12), ("1.5", 1.5), ("-0.25", -0.25), ("1e3", 1000), ("1E+3", 1000),
        ("2.5e-3", 0.0025), ("-1.0E-2", -0.01), ("123456789012345678", 123456789012345680), ("9007199254740993", 9007199254740992),
        ("0.1", 0.1), ("1e308", 1e308), ("4.9e-324", 0x1p-1074), ("1e-400", 0),
    ])
    func numbers(text: String, value: Double) throws {
        let n = try #require(try Self.parse(text).number)
        #expect(n.bitPattern == value.bitPattern, "\(text) → \(n)")
    }

    @Test func integersAreExactOnlyWhenWhole() throws {
        #expect(try Self.parse("42").int == 42)
        #expect(try Self.parse("-7").int == -7)
        #expect(try Self.parse("4.0").int == 4)
        #expect(try Self.parse("4.5").int == nil)
        #expect(try Self.parse("1e300").int == nil)
        #expect(try Self.parse("\"4\"").int == nil)
    }

    @Test(arguments: [
        (#""plain""#, "plain"),
        (#""\"\\\/\b\f\n\r\t""#, "\"\\/\u{8}\u{C}\n\r\t"),
        (#""\u0041\u00e9\u00E9\u4e2d""#, "Aéé中"),
        (#""\u0000x""#, "\u{0}x"),
        (#""\ud83d\ude00 \uD834\uDD1E""#, "😀 𝄞"),
        ("\"µ✓😀 raw\"", "µ✓😀 raw"),
        (#""a\u00e9µ\n""#, "aéµ\n"),
        (#""""#, ""),
    ])
    func strings(text: String, value: String) throws {
        #expect(try Self.parse(text) == .string(value))
    }

    /// Duplicate keys stay, in file order; the subscript gives the first.
    @Test func duplicateKeysAreKeptInOrder() throws {
        let v = try Self.parse(#"{"b":1,"a":2,"b":3,"a":{"x":4}}"#)
        let members = try #require(v.members)
        #expect(members.map(\.key) == ["b", "a", "b", "a"])
        #expect(members.map(\.value) == [.number(1), .number(2), .number(3), .object([("x", .number(4))])])
        #expect(v["b"] == .number(1) && v["a"] == .number(2))
    }

    // MARK: Invalid documents

    @Test(arguments: [
        ("", 0, "unexpected end"), ("   ", 3, "unexpected end"), ("[", 1, "unexpected end"), ("{", 1, "expected a string key"),
        (#"{"a":"#, 5, "unexpected end"), ("[1,]", 3, "invalid value"), ("[1 2]", 3, "expected ',' or ']'"),
        (#"{"a" 1}"#, 5, "expected ':'"), (#"{"a":1,}"#, 7, "expected a string key"), (#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
        ("{1:2}", 1, "expected a string key"), ("[1]x", 3, "after the JSON value"), ("1 2", 2, "after the JSON value"),
        ("tru", 0, "invalid literal"), ("nulls", 4, "after the JSON value"), ("True", 0, "invalid value"),
        ("01", 1, "leading zero"), ("-007", 2, "leading zero"), ("-", 0, "invalid value"), ("+1", 0, "invalid value"),
        (".5", 0, "invalid value"), ("1.", 2, "invalid number"), ("1.e5", 2, "invalid number"), ("1e", 2, "invalid exponent"),
        ("1e+", 3, "invalid exponent"), ("NaN", 0, "invalid value"), ("[Infinity]", 1, "invalid value"),
        (#""abc"#, 4, "unterminated string"), ("\"a\u{1}\"", 2, "control character"), ("\"a\nb\"", 2, "control character"),
        (#""\x""#, 1, "invalid escape"), (#""ab\"#, 4, "unterminated escape"), (#""\u12G4""#, 5, "invalid hex digit"),
        (#""\u12"#, 3, "truncated"), (#""\ud800""#, 1, "unpaired surrogate"), (#""\ud800x""#, 1, "unpaired surrogate"),
        (#""\ud800\u0041""#, 7, "invalid low surrogate"), (#""\udc00""#, 1, "unpaired surrogate"), (#"[1, 'a']"#, 4, "invalid value"),
    ])
    func invalidTextFailsAtTheRightOffset(text: String, offset: Int, reason: String) {
        expectFailure(Array(text.utf8), offset: offset, reason: reason)
    }

    /// Bytes that are not UTF-8 inside a string fail at the first bad byte.
    @Test(arguments: [
        ([0x22, 0xFF, 0x22], 1), ([0x22, 0x61, 0xC3, 0x22], 2), ([0x22, 0xC0, 0x80, 0x22], 1),
        ([0x22, 0xED, 0xA0, 0x80, 0x22], 1), ([0x22, 0x61, 0x5C, 0x6E, 0xE2, 0x82, 0x22], 4),
        ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 1), ([0x7B, 0x22, 0x6B, 0x80, 0x22, 0x3A, 0x31, 0x7D], 3),
    ] as [([UInt8], Int)])
    func invalidUTF8FailsAtTheFirstBadByte(bytes: [UInt8], offset: Int) {
        expectFailure(bytes, offset: offset, reason: "UTF-8")
    }

    @Test func nonASCIIOutsideStringsIsInvalid() {
        expectFailure(Array("[1, µ]".utf8), offset: 4, reason: "invalid value")
        expectFailure([0xEF, 0xBB, 0xBF, 0x31], offset: 0, reason: "invalid value")   // a byte-order mark
    }

    func expectFailure(_ bytes: [UInt8], offset: Int, reason: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let v = try JSONParser.parse(bytes)
            Issue.record("\(bytes) parsed as \(v.serialized)", sourceLocation: sourceLocation)
        } catch let error as JSONParser.Error {
            #expect(error.offset == offset, "\(error)", sourceLocation: sourceLocation)
            #expect(error.reason.contains(reason), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description == "\(error.reason) at byte \(error.offset)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    // MARK: Depth limit

    /// "offset: reason" of the error `parse` throws, or nil when it succeeds.
    static func failure(_ parse: () throws -> JSONValue) -> String? {
        do { _ = try parse(); return nil } catch let e as JSONParser.Error { return "\(e.offset): \(e.reason)" } catch { return "\(error)" }
    }

    /// `maxDepth` bounds nested arrays and objects; scalars inside the deepest one are fine.
    @Test func depthLimitCountsContainers() throws {
        func nested(_ n: Int, _ inner: String = "1") -> String { String(repeating: "[", count: n) + inner + String(repeating: "]", count: n) }
        #expect(throws: Never.self) { try Self.parse(nested(64)) }
        #expect(throws: Never.self) { try Self.parse(nested(64, "")) }
        #expect(Self.failure { try Self.parse(nested(65)) } == "64: nesting deeper than 64")
        #expect(throws: Never.self) { try Self.parse(nested(3), maxDepth: 3) }
        #expect(Self.failure { try Self.parse(nested(4), maxDepth: 3) } == "3: nesting deeper than 3")
        #expect(throws: Never.self) { try Self.parse("7", maxDepth: 0) }
        #expect(Self.failure { try Self.parse("{}", maxDepth: 0) } == "0: nesting deeper than 0")
        let objects = String(repeating: #"{"k":"#, count: 65) + "1" + String(repeating: "}", count: 65)
        #expect(Self.failure { try Self.parse(objects) } == "\(64 * 5): nesting deeper than 64")
    }

    /// Far past the limit, the parser stops at the limit instead of overflowing the stack.
    @Test func veryDeepInputStopsAtTheLimit() {
        let bytes = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        #expect(Self.failure { try JSONParser.parse(bytes) } == "64: nesting deeper than 64")
    }

    // MARK: Serialization

    @Test func serializedIsCompactAndEscaped() {
        let v = JSONValue.object([
            ("s", .string("q\"b\\n\n\t\u{1}é😀")), ("i", .number(-3)), ("f", .number(0.5)), ("big", .number(1e20)),
            ("l", .array([.bool(true), .null])), ("dup", .number(1)), ("dup", .number(2)),
        ])
        #expect(v.serialized == #"{"s":"q\"b\\n\n\t\u0001é😀","i":-3,"f":0.5,"big":1e+20,"l":[true,null],"dup":1,"dup":2}"#)
    }

    /// serialized → parse gives the same value back, for seeded random documents.
    @Test func serializedRoundTrips() throws {
        var rng = RandomGenerator(seed: 11)
        for i in 0..<500 {
            let v = Self.randomValue(&rng, depth: 0)
            let text = v.serialized
            let back = try JSONParser.parse(Array(text.utf8))
            #expect(back == v, "document \(i): \(text)")
            #expect(back.serialized == text)
        }
    }

    static let scalarPool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{0}", "\u{1F}", "\u{7F}",
                                               "é", "µ", "中", "\u{2028}", "\u{FEFF}", "😀", "\u{10FFFF}", "{", "]", ":", ","]

    static func randomString(_ rng: inout RandomGenerator) -> String {
        var s = String.UnicodeScalarView()
        for _ in 0..<rng.nextInt(below: 8) { s.append(scalarPool[rng.nextInt(below: scalarPool.count)]) }
        return String(s)
    }

    static func randomNumber(_ rng: inout RandomGenerator) -> Double {
        switch rng.nextInt(below: 4) {
        case 0: return Double(Int64(bitPattern: rng.next()) >> Int64(rng.nextInt(below: 64)))
        case 1: return Double(rng.nextNormal()) * pow(10, Double(rng.nextInt(below: 40) - 20))
        case 2:
            let d = Double(bitPattern: rng.next())
            return d.isFinite ? d : 1.5
        default: return Double(rng.nextInt(below: 2001) - 1000) / 8
        }
    }

    static func randomValue(_ rng: inout RandomGenerator, depth: Int) -> JSONValue {
        switch rng.nextInt(below: depth < 4 ? 7 : 4) {
        case 0: return .null
        case 1: return .bool(rng.nextInt(below: 2) == 0)
        case 2: return .number(randomNumber(&rng))
        case 3: return .string(randomString(&rng))
        case 4, 5: return .array((0..<rng.nextInt(below: 5)).map { _ in randomValue(&rng, depth: depth + 1) })
        default:
            return .object((0..<rng.nextInt(below: 5)).map { _ in
                (rng.nextInt(below: 4) == 0 ? "dup" : randomString(&rng), randomValue(&rng, depth: depth + 1))
            })
        }
    }

    /// Random edits of a valid document either parse or throw `JSONParser.Error`, never trap.
    @Test func mutatedDocumentsNeverTrap() {
        let base = Array(#"{"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00"],"b":{"c":"µ\n"},"d":0.125}"#.utf8)
        let alphabet = Array(#"{}[]":,\u0123456789eE+-.truefalsn "#.utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xED, 0xF4, 0xFF]
        var rng = RandomGenerator(seed: 5)
        var parsed = 0
        for _ in 0..<3_000 {
            var bytes = base
            for _ in 0..<(1 + rng.nextInt(below: 3)) {
                let at = rng.nextInt(below: bytes.count)
                switch rng.nextInt(below: 3) {
                case 0: bytes[at] = alphabet[rng.nextInt(below: alphabet.count)]
                case 1: bytes.insert(alphabet[rng.nextInt(below: alphabet.count)], at: at)
                default: bytes.remove(at: at)
                }
                if bytes.isEmpty { bytes = [0x20] }
            }
            do { _ = try JSONParser.parse(bytes); parsed += 1 } catch is JSONParser.Error {} catch {
                Issue.record("unexpected error \(error)")
            }
        }
        #expect(parsed > 0)
    }
}
