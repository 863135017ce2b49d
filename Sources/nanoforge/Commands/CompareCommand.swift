import ArgumentParser
import Foundation
import NanoForge

/// `nanoforge compare`: several runs' reports side by side.
struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Put several compress runs side by side: a Markdown table, and an HTML chart with one point per run.")

    @Argument(help: "Output folders of `nanoforge compress` (each holds report.json).")
    var runs: [String]

    @Option(help: "Folder to write comparison.md and comparison.html into (default: print Markdown only).")
    var output: String?

    func validate() throws {
        guard !runs.isEmpty else { throw ValidationError("give at least one run folder") }
    }

    func run() throws {
        try CLIErrors.reporting {
            let paths = runs.map { $0.hasSuffix(".json") ? $0 : $0 + "/" + CompressionReport.jsonFileName }
            for path in paths where !FileManager.default.fileExists(atPath: path) {
                throw CLIErrors.BadInput("\(path): no such file (is this a `nanoforge compress` output folder?)")
            }
            let comparison = try Comparison.read(paths)
            print(comparison.markdown())
            if let output {
                let written = try comparison.write(to: output)
                print("wrote " + written.joined(separator: ", "))
            }
        }
    }
}
