import Foundation

/// Paths inside the repository, found from this file's location so tests run from any folder.
public enum RepositoryPaths {
    /// The repository root (the folder holding Package.swift).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }   // Tests/TestSupport/RepositoryPaths.swift
        return url.path
    }()

    /// A path under the git-ignored download cache that `make setup` fills.
    public static func cache(_ relative: String) -> String { root + "/.cache/" + relative }

    /// A path under the committed fixtures.
    public static func fixture(_ relative: String) -> String { root + "/Fixtures/" + relative }

    /// The contents of a cached data file, or a message telling how to get it.
    public static func requireCached(_ relative: String) throws -> String {
        let path = cache(relative)
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingData(path: path)
        }
        return path
    }

    public struct MissingData: Error, CustomStringConvertible {
        public let path: String
        public var description: String { "\(path) is missing: run `make setup` (make test does this first)" }
    }
}
