import Foundation
import NanoModels
import NanoTensor

extension DistillationPass {
    /// Fills `cache` with each teacher's distributions over the `windows` it lacks: a local
    /// teacher one window per call (a window's logits are [length, V]: 50 MB for SmolLM2 at 256
    /// tokens), an endpoint teacher after its tokenizer check, its first window alone (it settles
    /// the `auto` protocol), then `concurrency` windows at a time. Logs progress with an ETA about
    /// every 10 s. The cache is saved (atomically) every `teacherCacheSaveInterval`, at the end,
    /// and when a teacher fails, so a killed or failed run resumes with only the missing windows.
    /// When the cache keeps hidden states, a local teacher's window runs through its
    /// `HiddenStatesLanguageModel` forward, which gives the logits and the hidden states at once.
    func fillTeacherDistributions(_ cache: TeacherTopKCache, teachers: [TopKTeacher], windows: [Int], inputs: (Int) -> [Int],
                                  temperature: Float, trainingText: String) throws {
        let missing = teachers.indices.map { t in windows.filter { !cache.has(teacher: t, window: $0) } }
        let total = missing.reduce(0) { $0 + $1.count }
        log("teacher distributions: \(windows.count) windows × \(teachers.count) teacher(s), \(teachers.count * windows.count - total) cached, \(total) to compute (top \(cache.k) of each position)")
        let fill = TopKFill(cache: cache, total: total, saveInterval: teacherCacheSaveInterval, log: log)
        do {
            for (t, teacher) in teachers.enumerated() where !missing[t].isEmpty {
                switch teacher {
                case .local(let local):
                    for w in missing[t] {
                        let ids = inputs(w).map { local.teacherIds[$0] }
                        var logits: Tensor, hidden: [Float]?
                        if cache.hiddenWidth != nil, let model = local.model as? HiddenStatesLanguageModel {
                            let r = model.nextTokenLogitsAndHiddenStates(ids, batch: 1, length: ids.count, tape: Tape(recording: false))
                            (logits, hidden) = (r.logits.value.reshaped([ids.count, model.vocabularySize]), r.hidden.value.scalars)
                            // The cache keeps them as Float16: a value outside its range would become ±∞.
                            if let bad = hidden!.firstIndex(where: { !$0.isFinite || abs($0) > Float(Float16.greatestFiniteMagnitude) }) {
                                throw TrainingError.unsupported(option: "losses.hidden_mse", reason: "teachers[\(t)]'s hidden state \(hidden![bad]) (window \(w), position \(bad / model.hiddenStateWidth)) lies outside Float16's range (±65504), in which the teacher cache keeps hidden states")
                            }
                        } else {
                            (logits, hidden) = (local.model.logits(ids), nil)
                        }
                        try fill.store(teacher: t, window: w, TopKDistribution(logits: logits, k: cache.k, temperature: temperature, studentId: {
                            let s = local.studentIds[$0]
                            return s >= 0 ? Int(s) : nil
                        }), hidden: hidden)
                    }
                case .endpoint(let endpoint):
                    try fillFromEndpoint(endpoint, teacher: t, windows: missing[t], prompts: missing[t].map(inputs), fill: fill, trainingText: trainingText)
                }
            }
        } catch {
            // What was fetched stays: the next run asks only for the rest.
            if (try? cache.save()) != nil, let path = cache.path {
                log("teacher cache: \(path) saved with \(fill.done) new window(s) before the failure")
            }
            throw error
        }
        try cache.save()
        if let path = cache.path {
            let hidden = cache.hiddenWidth == nil ? "" : " (\(cache.hiddenByteCount / 1_048_576) MiB of them Float16 hidden states)"
            log("teacher cache: \(path), \(cache.byteCount / 1_048_576) MiB of top-k distributions\(hidden)")
        }
    }

    private func fillFromEndpoint(_ endpoint: EndpointTeacher, teacher t: Int, windows: [Int], prompts: [[Int]], fill: TopKFill,
                                  trainingText: String) throws {
        let url = endpoint.options.url
        try endpoint.checkTokenizer(trainingText: trainingText)
        log("teacher \(t): \(url) (\(endpoint.options.model)) tokenizes the training text and \(EndpointTeacher.oddProbes.count) probes like the student")
        let clock = ContinuousClock(), start = clock.now
        let k = fill.cache.k
        try fill.store(teacher: t, window: windows[0], endpoint.distribution(window: windows[0], inputs: prompts[0], k: k))
        log("teacher \(t): \(url) answers with the \(endpoint.fetchProtocol.rawValue) protocol, \(endpoint.options.concurrency) window(s) at a time")
        let queue = WindowQueue(count: windows.count, first: 1)
        let group = DispatchGroup()
        for _ in 0..<min(endpoint.options.concurrency, windows.count - 1) {
            group.enter()
            let thread = Thread {
                defer { group.leave() }
                while let i = queue.next() {
                    do {
                        try fill.store(teacher: t, window: windows[i], endpoint.distribution(window: windows[i], inputs: prompts[i], k: k))
                    } catch {
                        queue.fail(error)
                        return
                    }
                }
            }
            thread.stackSize = 4 << 20
            thread.start()
        }
        group.wait()
        if let error = queue.error { throw error }
        let seconds = TrainingLoop.seconds(clock.now - start)
        let positions = endpoint.positionsFetched
        log("teacher \(t): \(positions) positions (teacher output tokens) in \(String(format: "%.1f", seconds)) s, \(String(format: "%.1f", Double(positions) / max(seconds, 1e-9))) tokens/s, \(endpoint.http.retriesDone) retries")
    }
}

/// The windows a set of threads shares, and the first error, which stops them all.
private final class WindowQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex: Int
    private let count: Int
    private(set) var error: Error?

    init(count: Int, first: Int) { self.count = count; nextIndex = first }

    func next() -> Int? {
        lock.withLock {
            guard error == nil, nextIndex < count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    func fail(_ e: Error) { lock.withLock { if error == nil { error = e } } }
}

/// Stores windows into the cache from any thread, logging progress and saving it periodically.
final class TopKFill: @unchecked Sendable {
    let cache: TeacherTopKCache
    private let total: Int
    private let saveInterval: Duration
    private let log: (String) -> Void
    private let lock = NSLock()
    private let clock = ContinuousClock()
    private let start: ContinuousClock.Instant
    private var lastLog: ContinuousClock.Instant, lastSave: ContinuousClock.Instant
    private(set) var done = 0

    init(cache: TeacherTopKCache, total: Int, saveInterval: Duration, log: @escaping (String) -> Void) {
        self.cache = cache; self.total = total; self.saveInterval = saveInterval; self.log = log
        let now = ContinuousClock.now
        start = now; lastLog = now; lastSave = now
    }

    func store(teacher t: Int, window w: Int, _ d: TopKDistribution, hidden: [Float]? = nil) throws {
        try lock.withLock {
            cache.store(teacher: t, window: w, d, hidden: hidden)
            done += 1
            let now = clock.now
            if now - lastLog >= .seconds(10) || done == total {
                lastLog = now
                let elapsed = TrainingLoop.seconds(now - start)
                log("teacher distributions: \(done)/\(total) windows, \(String(format: "%.1f", elapsed)) s elapsed, ETA \(Int((elapsed / Double(done) * Double(total - done)).rounded())) s")
            }
            if now - lastSave >= saveInterval && done < total, let path = cache.path {
                try cache.save()
                lastSave = clock.now
                log("teacher cache: \(path) saved, \(done)/\(total) windows")
            }
        }
    }
}
