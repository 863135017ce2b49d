import ArgumentParser

struct Nanoforge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanoforge",
        abstract: "Compress a trained model into a nano model, with a report of what each step cost.",
        subcommands: [CompressCommand.self, EvalCommand.self, CompareCommand.self, ExportCommand.self, DemoCommand.self, EmbedCommand.self, InspectCommand.self, BenchCommand.self])
}

Nanoforge.main()
