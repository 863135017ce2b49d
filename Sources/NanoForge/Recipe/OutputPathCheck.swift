import Foundation

/// Where a run may write its output folder. The output replaces the folder wholesale (the old one
/// is moved aside and deleted), so a mistyped `output.dir` must never name a system folder, the
/// current folder or one of its ancestors; with `--root DIR` it must also lie inside DIR, after
/// `..` and symbolic links are resolved.
public enum OutputPathCheck {
    /// Folders that are never an output folder themselves.
    static let systemFolders: Set<String> = ["/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64",
                                             "/libx32", "/media", "/mnt", "/opt", "/proc", "/root", "/run", "/sbin",
                                             "/srv", "/sys", "/tmp", "/usr", "/var"]
    /// Trees owned by the system: nothing inside them is an output folder either.
    static let systemTrees = ["/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/sbin",
                              "/sys", "/usr"]

    /// Throws a ``RecipeError`` naming `output.dir` (of `file`) when `directory` is a system
    /// folder, the current folder or an ancestor of it, or, with `root`, lies outside `root`.
    /// Relative paths are taken from the current folder, as the pipeline writes them.
    public static func check(_ directory: String, root: String?, file: String) throws {
        let location = RecipeLocation(file: file, path: "output.dir")
        let resolved = resolve(directory)
        let shown = resolved == directory ? "'\(directory)'" : "'\(directory)' (resolves to '\(resolved)')"
        if let root {
            let base = resolve(root)
            guard contains(base, resolved), resolved != base else {
                throw RecipeError.outOfRange(location, allowed: "a folder inside --root '\(base)'", found: shown)
            }
        }
        if systemFolders.contains(resolved) || systemTrees.contains(where: { contains($0, resolved) }) {
            throw RecipeError.outOfRange(location, allowed: "a folder of your own, not a system folder", found: shown)
        }
        let current = resolve(FileManager.default.currentDirectoryPath)
        if contains(resolved, current) {
            throw RecipeError.outOfRange(location, allowed: "a folder that does not hold the current folder '\(current)' (it is replaced whole)",
                                         found: shown)
        }
    }

    /// Whether `path` is `folder` or lies inside it (both absolute and resolved).
    static func contains(_ folder: String, _ path: String) -> Bool {
        folder == "/" || path == folder || path.hasPrefix(folder + "/")
    }

    /// An absolute path without `.`, `..` or symbolic links: the deepest existing ancestor goes
    /// through `realpath(3)`, the rest is normalised lexically.
    static func resolve(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [String] = []
        for part in absolute.split(separator: "/") {
            switch part {
            case ".": continue
            case "..": _ = parts.popLast()
            default: parts.append(String(part))
            }
        }
        // Resolve links in the longest prefix that exists; keep the missing tail as written.
        var existing = parts.count
        while existing > 0 {
            let prefix = "/" + parts.prefix(existing).joined(separator: "/")
            if let real = realpath(prefix, nil) {
                defer { free(real) }
                let head = String(cString: real)
                let tail = parts.dropFirst(existing)
                return tail.isEmpty ? head : (head == "/" ? "" : head) + "/" + tail.joined(separator: "/")
            }
            existing -= 1
        }
        return "/" + parts.joined(separator: "/")
    }
}

extension Recipe {
    /// Checks `directory` (default `output.dir`) with ``OutputPathCheck/check(_:root:file:)``.
    public func checkOutputDirectory(_ directory: String? = nil, root: String?) throws {
        try OutputPathCheck.check(directory ?? output.directory, root: root, file: file)
    }
}
