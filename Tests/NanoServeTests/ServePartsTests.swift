import Foundation
import Testing
import NanoCheckpoint
import NanoRuntime
import NanoTensor
@testable import NanoServe

/// The server's pieces on their own: stop strings, top-k log-probabilities, request fields,
/// model arguments.
@Suite struct ServePartsTests {
    /// Feeding text in any split gives the same output as the whole, and never shows a stop string.
    @Test(arguments: [1, 2, 3, 5])
    func stopMatcherIsSplitInvariant(piece: Int) {
        let cases: [(text: String, stops: [String], expected: String, stopped: Bool)] = [
            ("hello world, bye", [", b"], "hello world", true),
            ("abcabd", ["abd"], "abc", true),
            ("aaab", ["aab", "b"], "a", true),
            ("no stop here", ["xyz"], "no stop here", false),
            ("trailing ab", ["abc"], "trailing ab", false),
            ("héllo wörld", ["ö"], "héllo w", true),
        ]
        for c in cases {
            var m = StopMatcher(c.stops)
            var out = "", stopped = false
            let scalars = Array(c.text.unicodeScalars)
            for start in stride(from: 0, to: scalars.count, by: piece) where !stopped {
                var s = String.UnicodeScalarView(); s.append(contentsOf: scalars[start..<min(start + piece, scalars.count)])
                let r = m.append(String(s))
                out += r.text
                stopped = r.stopped
                for stop in c.stops { #expect(!out.contains(stop), "\(c.text) piece \(piece): shown '\(out)'") }
            }
            if !stopped { out += m.flush() }
            #expect(out == c.expected && stopped == c.stopped, "\(c.text) piece \(piece): '\(out)'")
        }
    }

    /// `best` equals a full sort (value descending, id ascending) on random rows with ties.
    @Test func topLogprobsMatchASortedReference() {
        var rng = RandomGenerator(seed: 3)
        for n in [1, 2, 7, 33, 259] {
            for k in [0, 1, 3, 20] {
                // Values on a coarse grid so ties occur.
                let row = (0..<n).map { _ in Float(Int(rng.nextUniform() * 8)) / 4 }
                let reference = Array(row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k))
                #expect(TokenLogprob.best(row[...], k) == reference, "n \(n) k \(k)")
                let lp = TokenLogprob(token: n - 1, logits: row[...], top: k)
                let m = Double(row.max()!)
                let lse = m + log(row.reduce(0.0) { $0 + exp(Double($1) - m) })
                #expect(abs(Double(lp.logprob) - (Double(row[n - 1]) - lse)) < 1e-6)
                #expect(lp.top.map(\.token) == reference)
            }
        }
    }

    @Test func requestFieldsNameTheFieldOfAWrongType() throws {
        let fields = try RequestFields(body: Array("{\"a\": 1, \"b\": \"x\", \"c\": null, \"d\": [\"p\", \"q\"], \"e\": 1.5}".utf8))
        #expect(try fields.int("a") == 1 && fields["c"] == nil && (try fields.int("c")) == nil)
        #expect(try fields.strings("b") == ["x"] && fields.strings("d") == ["p", "q"])
        #expect(throws: APIError.wrongType("b", expected: "an integer")) { try fields.int("b") }
        #expect(throws: APIError.wrongType("e", expected: "an integer")) { try fields.int("e") }
        #expect(throws: APIError.wrongType("a", expected: "a string or an array of strings")) { try fields.strings("a") }
        #expect(throws: APIError.missing("z")) { try fields.requiredString("z") }
        #expect(throws: APIError.self) { try RequestFields(body: Array("{\"a\": ".utf8)) }
        #expect(try TextOrTokens.list(.array([.number(1), .number(2)]), param: "p") == [.tokens([1, 2])])
        #expect(try TextOrTokens.list(.array([.array([.number(1)]), .array([.number(3)])]), param: "p") == [.tokens([1]), .tokens([3])])
        #expect(throws: APIError.invalidValue("p", "must not be empty")) { try TextOrTokens.list(.array([]), param: "p") }
        #expect(throws: APIError.self) { try TextOrTokens.list(.array([.number(-1)]), param: "p") }
    }

    @Test func modelArgumentsAndNames() throws {
        #expect(try ServedModel.parseArgument("small=/m/x.gguf") == ("small", "/m/x.gguf"))
        #expect(try ServedModel.parseArgument("/m/SmolLM2.Q4_1.gguf") == ("SmolLM2.Q4_1", "/m/SmolLM2.Q4_1.gguf"))
        #expect(try ServedModel.parseArgument("models/all-MiniLM-L6-v2/") == ("all-MiniLM-L6-v2", "models/all-MiniLM-L6-v2/"))
        #expect(throws: ServeError.self) { try ServedModel.parseArgument("=x") }
        let (decoder, _) = try ServeFixtures.models()
        #expect(throws: ServeError.duplicateName("tiny-llama")) { try NanoServer(models: [.decoder(decoder), .decoder(decoder)], configuration: ServeConfiguration()) }
    }

    @Test func base64IsLittleEndianFloat32() {
        let values: [Float] = [1, -2.5, .leastNonzeroMagnitude, 3.1415927]
        let data = Data(base64Encoded: EmbeddingsEndpoint.base64(values))!
        #expect(data.count == 16)
        #expect(Array(data.prefix(4)) == [0x00, 0x00, 0x80, 0x3F])
    }

    @Test func floatsAreWrittenShortestAndExact() throws {
        for x: Float in [0.1, -0.6931472, 1e-8, 123456.79, -3.4028235e38] {
            let text = JSONValue.float(x).serialized
            #expect(Float(text) == x, "\(text)")
            #expect(text.count <= 16, "\(text)")
        }
        #expect(JSONValue.float(.nan) == .null)
    }
}
