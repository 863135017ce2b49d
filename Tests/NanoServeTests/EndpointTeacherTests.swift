import Foundation
import Testing
import NanoCheckpoint
@testable import NanoForge
import NanoModels
@testable import NanoServe
import NanoTensor
import TestSupport

/// The distillation teacher behind an OpenAI-compatible endpoint (`EndpointTeacher`), on
/// loopback only: against a scripted fake (retries on 429 / 500, a timeout, a 4xx that stops at
/// once, a tokenizer that differs, llama.cpp's per-position protocol) and against nanoforge's own
/// server with a tiny model, whose cache must match a local teacher's.
@Suite(.serialized) struct EndpointTeacherTests {
    static func byteTokenizer() throws -> ByteLevelBPETokenizer {
        try ByteLevelBPETokenizer(BPETokenizerDescription(source: "bytes", tokens: (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) },
                                                          merges: [], preTokenizer: .gpt2))
    }

    static let text = "the cat sat on the mat\nthe dog ran far away\na quick brown fox jumps over the lazy dog\n"

    static func options(_ url: String, _ configure: (inout EndpointTeacherOptions) -> Void = { _ in }) -> EndpointTeacherOptions {
        var o = EndpointTeacherOptions(url: url, model: "fake")
        o.concurrency = 2; o.timeoutSeconds = 5; o.retries = 3
        configure(&o)
        return o
    }

    /// The fake's distribution of each position of `inputs`, as the cache should hold it (k = 4:
    /// three tokens and an empty slot; remainder 0.125).
    static func expected(_ inputs: [Int], k: Int) -> TopKDistribution {
        var ids = [Int32](repeating: -1, count: inputs.count * k), p = [Float](repeating: 0, count: inputs.count * k)
        for j in inputs.indices {
            for (slot, t) in FakeTeacherEndpoint.top(after: Array(inputs[0...j])).enumerated() { ids[j * k + slot] = Int32(t.id); p[j * k + slot] = Float(t.p) }
        }
        return TopKDistribution(rows: inputs.count, k: k, ids: ids, probabilities: p, remainder: [Float](repeating: 0.125, count: inputs.count))
    }

    static func withFake<T>(_ fake: FakeTeacherEndpoint, _ body: () throws -> T) async throws -> T {
        try await fake.start()
        do {
            let result = try await onTestExecutor { try body() }
            await fake.stop()
            return result
        } catch {
            await fake.stop()
            throw error
        }
    }

    @Test func echoRetriesAfter429And500ThenSucceeds() async throws {
        let tokenizer = try Self.byteTokenizer()
        let fake = FakeTeacherEndpoint(tokenizer: tokenizer)
        fake.setScript { n in n == 0 ? .status(429, message: "slow down", retryAfter: "0") : n == 1 ? .status(500, message: "boom", retryAfter: "0") : .normal }
        try await Self.withFake(fake) {
            let teacher = try EndpointTeacher(Self.options(fake.url) { $0.fetchProtocol = .echo }, tokenizer: tokenizer, seed: 1)
            try teacher.checkTokenizer(trainingText: Self.text)
            let inputs = tokenizer.encode("the cat sat", allowSpecial: false)
            let d = try teacher.distribution(window: 0, inputs: inputs, k: 4)
            #expect(d == Self.expected(inputs, k: 4))
            #expect(teacher.http.retriesDone == 2)
            #expect(fake.count("/v1/completions") == 3)
        }
    }

    @Test func otherClientErrorsStopAtOnceWithTheServersMessage() async throws {
        let tokenizer = try Self.byteTokenizer()
        let fake = FakeTeacherEndpoint(tokenizer: tokenizer)
        fake.setScript { _ in .status(400, message: "'logprobs' must lie in 0...20, got 64", retryAfter: nil) }
        try await Self.withFake(fake) {
            let teacher = try EndpointTeacher(Self.options(fake.url) { $0.fetchProtocol = .echo }, tokenizer: tokenizer, seed: 1)
            try teacher.checkTokenizer(trainingText: Self.text)
            let error = #expect(throws: TrainingError.self) { try teacher.distribution(window: 7, inputs: [1, 2, 3], k: 4) }
            let message = error.map { "\($0)" } ?? ""
            #expect(message.contains(fake.url) && message.contains("window 7") && message.contains("must lie in 0...20") && message.contains("400"), "\(message)")
            #expect(fake.count("/v1/completions") == 1)
        }
    }

    @Test func aHangingServerTimesOut() async throws {
        let tokenizer = try Self.byteTokenizer()
        let fake = FakeTeacherEndpoint(tokenizer: tokenizer)
        fake.setScript { _ in .hang }
        try await Self.withFake(fake) {
            let teacher = try EndpointTeacher(Self.options(fake.url) { $0.fetchProtocol = .echo; $0.timeoutSeconds = 2; $0.retries = 1 },
                                              tokenizer: tokenizer, seed: 1)
            try teacher.checkTokenizer(trainingText: Self.text)
            let clock = ContinuousClock(), start = clock.now
            let error = #expect(throws: TrainingError.self) { try teacher.distribution(window: 0, inputs: [1, 2, 3], k: 4) }
            #expect(clock.now - start < .seconds(20))
            #expect(error.map { "\($0)" }?.contains("timeout_s") == true, "\(String(describing: error))")
            #expect(fake.count("/v1/completions") == 2)
        }
    }

    /// A server whose tokenizer merges "t" + "h" is refused at the first "th", before any
    /// log-probability request.
    @Test func anotherTokenizerIsRefusedBeforeAnyLogprobRequest() async throws {
        let student = try Self.byteTokenizer()
        var d = BPETokenizerDescription(source: "th", tokens: (0..<256).map { ByteLevelAlphabet.spell([UInt8($0)]) } + ["th"],
                                        merges: [(left: "t", right: "h")], preTokenizer: .gpt2)
        d.tokensField = "tokens"
        let fake = FakeTeacherEndpoint(tokenizer: try ByteLevelBPETokenizer(d))
        try await Self.withFake(fake) {
            try withTemporaryDirectory { dir in
                let data = dir + "/text.txt"
                try String(repeating: Self.text, count: 4).write(toFile: data, atomically: true, encoding: .utf8)
                let error = #expect(throws: TrainingError.self) {
                    try Self.distill(data: data, teacher: Self.options(fake.url), tokenizer: student, cache: dir + "/cache.h5")
                }
                let message = error.map { "\($0)" } ?? ""
                #expect(message.contains(fake.url) && message.contains("tokenizes differently") && message.contains("\"th\"")
                        && message.contains("before any log-probability request"), "\(message)")
                #expect(fake.count("/tokenize") >= 1 && fake.count("/v1/completions") == 0)
            }
        }
    }

    /// `auto` against a server that refuses echo (llama-server): one try, then one request per
    /// position in llama.cpp's `content` shape, ids and bytes; the same distributions.
    @Test func autoFallsBackToPerPositionRequests() async throws {
        let tokenizer = try Self.byteTokenizer()
        let fake = FakeTeacherEndpoint(tokenizer: tokenizer, refusesEcho: true)
        try await Self.withFake(fake) {
            let teacher = try EndpointTeacher(Self.options(fake.url), tokenizer: tokenizer, seed: 1)
            try teacher.checkTokenizer(trainingText: Self.text)
            let inputs = tokenizer.encode("the dog ran", allowSpecial: false)
            #expect(try teacher.distribution(window: 0, inputs: inputs, k: 4) == Self.expected(inputs, k: 4))
            #expect(teacher.fetchProtocol == .perPosition)
            #expect(fake.count("/v1/completions") == 1 + inputs.count)
            #expect(try teacher.distribution(window: 1, inputs: inputs, k: 4) == Self.expected(inputs, k: 4))
            #expect(fake.count("/v1/completions") == 1 + 2 * inputs.count)
        }
    }

    /// A fetch that fails after some windows (the server errs for good) saves what it got; the
    /// next run asks only for the missing windows and trains on the same distributions.
    @Test func anInterruptedFetchResumesWithTheMissingWindows() async throws {
        let tokenizer = try Self.byteTokenizer()
        let fake = FakeTeacherEndpoint(tokenizer: tokenizer)
        try await Self.withFake(fake) {
            try withTemporaryDirectory { dir in
                let data = dir + "/text.txt"
                try String(repeating: Self.text, count: 6).write(toFile: data, atomically: true, encoding: .utf8)
                let cache = dir + "/cache.h5"
                let endpoint = Self.options(fake.url) { $0.fetchProtocol = .echo; $0.retries = 0; $0.concurrency = 1 }
                fake.setScript { n in n < 5 ? .normal : .status(503, message: "gone", retryAfter: nil) }
                var lines: [String] = []
                #expect(throws: TrainingError.self) { try Self.distill(data: data, teacher: endpoint, tokenizer: tokenizer, cache: cache) { lines.append($0) } }
                #expect(lines.contains { $0.contains("saved with 5 new window(s)") }, "\(lines)")
                let total = try #require(lines.first.flatMap { Self.number(before: " to compute", in: $0) })
                fake.setScript { _ in .normal }
                lines = []
                let resumed = try Self.distill(data: data, teacher: endpoint, tokenizer: tokenizer, cache: cache) { lines.append($0) }
                #expect(lines.first?.contains("5 cached, \(total - 5) to compute") == true, "\(lines)")
                #expect(fake.count("/v1/completions") == 6 + total - 5)
                // The same as one uninterrupted fetch.
                let whole = try Self.distill(data: data, teacher: endpoint, tokenizer: tokenizer, cache: dir + "/whole.h5")
                #expect(resumed.training.losses.map(\.bitPattern) == whole.training.losses.map(\.bitPattern))
            }
        }
    }

    /// nanoforge's own server with a tiny random Llama (echo protocol, ids as `token_id:N`): the
    /// cache holds what the same model computes locally, every id equal and every probability and
    /// remainder within 2e-5 (the server's decoding and the training forward order float sums
    /// differently), and the students train alike (losses within 1e-4 relative).
    @Test func nanoforgeServeGivesTheLocalTeachersDistributions() async throws {
        let folder = try ServeFixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (llama, _) = try ServeFixtures.write(to: folder)
        let server = try await TestServer.start([try ServedModel.load(name: "tiny", path: llama)])
        defer { Task { await server.stop() } }
        let data = folder + "/text.txt"
        try String(repeating: Self.text, count: 8).write(toFile: data, atomically: true, encoding: .utf8)
        try await onTestExecutor {
            var lines: [String] = []
            func run(_ teacher: DistillationPass.Teacher, cache: String) throws -> DistillationPass.Result {
                let student = try EvaluatedModel.load(path: llama, recipe: "test").model
                var training = TrainingOptions(data: data, steps: 6)
                training.batchSize = 2
                var options = DistillPass(losses: [.init(kind: .logitKL), .init(kind: .reverseKL)], training: training)
                options.sequenceLength = 24
                options.teacherTopK = 8
                options.teacherCache = cache
                var pass = DistillationPass(options: options, seed: 2)
                pass.log = { lines.append($0) }
                return try pass.run(model: student, teachers: [teacher])
            }
            let local = try run(.init(model: try EvaluatedModel.load(path: llama, recipe: "test").model), cache: folder + "/local.h5")
            var endpoint = EndpointTeacherOptions(url: "http://127.0.0.1:\(server.port)/v1", model: "tiny")
            endpoint.fetchProtocol = .echo
            endpoint.topLogprobs = 10
            let remote = try run(.init(endpoint: endpoint), cache: folder + "/endpoint.h5")
            #expect(lines.contains { $0.contains("answers with the echo protocol") }, "\(lines)")
            let a = try HDF5CheckpointReader.read(path: folder + "/local.h5"), b = try HDF5CheckpointReader.read(path: folder + "/endpoint.h5")
            let present = try #require(a["teacher.0.present"]).integers()
            #expect(present == (try #require(b["teacher.0.present"])).integers() && present.contains(1))
            let ids = (try #require(a["teacher.0.ids"])).integers(), otherIds = (try #require(b["teacher.0.ids"])).integers()
            #expect(ids == otherIds)
            let p = (try #require(a["teacher.0.probabilities"])).floatTensor().scalars, q = (try #require(b["teacher.0.probabilities"])).floatTensor().scalars
            let r = (try #require(a["teacher.0.remainder"])).floatTensor().scalars, s = (try #require(b["teacher.0.remainder"])).floatTensor().scalars
            let worst = max(zip(p, q).map { abs($0 - $1) }.max() ?? 0, zip(r, s).map { abs($0 - $1) }.max() ?? 0)
            #expect(worst <= 2e-5, "largest probability difference \(worst)")
            for (x, y) in zip(local.training.losses, remote.training.losses) { #expect(abs(x - y) <= 1e-4 * max(1, abs(x)), "\(x) vs \(y)") }
        }
    }

    static func number(before marker: String, in line: String) -> Int? {
        guard let r = line.range(of: marker) else { return nil }
        return Int(line[..<r.lowerBound].split(separator: " ").last ?? "")
    }

    /// A few distillation steps of a 1-layer byte-level student from `teacher`.
    @discardableResult
    static func distill(data: String, teacher: EndpointTeacherOptions, tokenizer: ByteLevelBPETokenizer, cache: String,
                        log: @escaping (String) -> Void = { _ in }) throws -> DistillationPass.Result {
        var rng = RandomGenerator(seed: 5)
        let c = LlamaConfiguration(vocabularySize: 256, width: 16, layers: 1, heads: 2, kvHeads: 1, feedForwardWidth: 24, contextLength: 64)
        let student = EvaluatedModel(.llama(LlamaModel(c, rng: &rng)), input: .byteLevelBPE(tokenizer))
        var training = TrainingOptions(data: data, steps: 4)
        training.batchSize = 2
        var options = DistillPass(losses: [.init(kind: .logitKL)], training: training)
        options.sequenceLength = 16
        options.teacherTopK = 4
        options.teacherCache = cache
        var pass = DistillationPass(options: options, seed: 1)
        pass.log = log
        return try pass.run(model: student, teachers: [.init(endpoint: teacher)])
    }
}
