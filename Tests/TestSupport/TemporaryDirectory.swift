import Foundation

/// Runs `body` with the path of a new empty folder under the system's temporary folder, and
/// removes the folder and everything in it afterwards, whether `body` returns or throws.
public func withTemporaryDirectory<T>(_ body: (_ path: String) throws -> T) throws -> T {
    let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("nanoforge-test-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: path) }
    return try body(path)
}
