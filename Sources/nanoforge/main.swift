import ArgumentParser
import NanoTensor

struct Nanoforge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanoforge",
        abstract: "Compress a trained model into a nano model, with a report of what each step cost.")
}
Nanoforge.main()
