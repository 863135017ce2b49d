import Foundation

/// At most `limit` requests of one model in flight (running or waiting); one more is refused
/// with `APIError.busy` (429).
final class AdmissionLimit: @unchecked Sendable {
    let name: String
    let limit: Int
    private let lock = NSLock()
    private var admitted = 0

    init(name: String, limit: Int) {
        precondition(limit > 0, "AdmissionLimit: the limit must be positive")
        self.name = name; self.limit = limit
    }

    /// Requests admitted and not yet finished.
    var inFlight: Int { lock.withLock { admitted } }

    func acquire() throws {
        try lock.withLock {
            guard admitted < limit else { throw APIError.busy(name, limit: limit) }
            admitted += 1
        }
    }

    func release() { lock.withLock { admitted -= 1 } }
}
