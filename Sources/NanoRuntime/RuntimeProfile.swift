import Foundation

/// Wall time per operation kind, accumulated across forward passes when enabled: the per-op
/// profile `bench runtime` prints. Off by default (a clock read per op otherwise).
public final class RuntimeProfile: @unchecked Sendable {
    public var enabled = false
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var calls: [String: Int] = [:]

    public init() {}

    @inline(__always)
    public func measure<R>(_ op: String, _ body: () -> R) -> R {
        guard enabled else { return body() }
        let start = ContinuousClock.now
        let result = body()
        seconds[op, default: 0] += Self.seconds(ContinuousClock.now - start)
        calls[op, default: 0] += 1
        return result
    }

    static func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

    public func reset() { seconds = [:]; calls = [:] }
}
