import Testing
@testable import NanoForge

/// `distill.teachers` items with `endpoint`: decoding, defaults, the round trip, and each
/// refusal naming its field. No tensors, no network.
struct EndpointTeacherRecipeTests {
    static func distill(_ teachers: String, extra: String = "") throws -> DistillPass {
        let recipe = try RecipeDecodingTests.recipe(stages: "  - distill: { data: s.txt, steps: 10, losses: [{loss: logit_kl}], teacher_top_k: 16, teachers: \(teachers)\(extra) }")
        return try #require(recipe.stages.first?.pass as? DistillPass)
    }

    static func message(_ teachers: String, extra: String = "") -> String {
        do { _ = try distill(teachers, extra: extra); return "no error" } catch { return "\(error)" }
    }

    @Test func endpointTeachersDecodeWithDefaultsAndRoundTrip() throws {
        let pass = try Self.distill(#"[{path: t.gguf}, {endpoint: "http://gpu-1:8000/v1", model: teacher-70b, api_key_env: TEACHER_KEY, top_logprobs: 20, protocol: per_position, concurrency: 16, timeout_s: 30, retries: 2, weight: 2}]"#)
        #expect(pass.teachers[0] == .init(path: "t.gguf", weight: 1))
        var expected = EndpointTeacherOptions(url: "http://gpu-1:8000/v1", model: "teacher-70b")
        expected.apiKeyEnvironment = "TEACHER_KEY"; expected.topLogprobs = 20; expected.fetchProtocol = .perPosition
        expected.concurrency = 16; expected.timeoutSeconds = 30; expected.retries = 2
        #expect(pass.teachers[1] == .init(path: "http://gpu-1:8000/v1", weight: 2, endpoint: expected))
        #expect(expected.base == "http://gpu-1:8000")
        let again = try DistillPass.decode(RecipeDocument.parse(try RecipeEncoding.yaml(pass.encode()), file: "roundtrip.yaml"))
        #expect(again == pass)

        let defaults = try Self.distill(#"[{endpoint: "http://localhost:8080", model: m}]"#).teachers[0].endpoint
        #expect(defaults?.fetchProtocol == .auto && defaults?.concurrency == 4 && defaults?.timeoutSeconds == 120 && defaults?.retries == 5)
        #expect(defaults?.topLogprobs == nil && defaults?.apiKeyEnvironment == nil)
    }

    @Test func badEndpointEntriesNameTheField() {
        let cases: [(String, String, [String])] = [
            (#"[{endpoint: "http://h:1", model: m, top_logprob: 20}]"#, "", ["teachers[0].top_logprob", "top_logprobs"]),
            (#"[{endpoint: "http://h:1", model: m, concurrency: many}]"#, "", ["teachers[0].concurrency", "an integer"]),
            (#"[{endpoint: "http://h:1", model: m, protocol: echoes}]"#, "", ["teachers[0].protocol", "echo"]),
            (#"[{endpoint: "http://h:1", model: m, top_logprobs: 8}]"#, "", ["teachers[0].top_logprobs", "teacher_top_k (16)"]),
            (#"[{endpoint: "ftp://h:1", model: m}]"#, "", ["teachers[0].endpoint", "http://"]),
            (#"[{endpoint: "http://h:1"}]"#, "", ["teachers[0].model"]),
            (#"[{endpoint: "http://h:1", model: m, path: t.gguf}]"#, "", ["teachers[0].path", "both path and endpoint"]),
            (#"[{path: t.gguf, model: m}]"#, "", ["teachers[0].model", "endpoint"]),
            (#"[{endpoint: "http://h:1", model: m, timeout_s: 0}]"#, "", ["teachers[0].timeout_s", "> 0"]),
        ]
        for (teachers, extra, parts) in cases {
            let m = Self.message(teachers, extra: extra)
            for part in parts { #expect(m.contains(part), "\(teachers): \(m)") }
        }
        let tempered = (try? RecipeDecodingTests.recipe(stages: #"  - distill: { data: s.txt, steps: 10, losses: [{loss: logit_kl, temperature: 2}], teacher_top_k: 16, teachers: [{endpoint: "http://h:1", model: m}] }"#))
        #expect(tempered == nil)
        do {
            _ = try RecipeDecodingTests.recipe(stages: #"  - distill: { data: s.txt, steps: 10, losses: [{loss: logit_kl, temperature: 2}], teachers: [{endpoint: "http://h:1", model: m}] }"#)
        } catch {
            #expect("\(error)".contains("temperature-1") && "\(error)".contains("teachers[0].endpoint"), "\(error)")
        }
    }
}
