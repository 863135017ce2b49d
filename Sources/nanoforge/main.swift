import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoTensor

// `nanoforge __check-hdf5 FILE` (hidden): the child process in which HDF5Isolation reads a
// user's HDF5 file before this process does, since libhdf5 can crash or hang on a hostile one.
// Matched before the argument parser, so that no path is ever taken for an option.
if CommandLine.arguments.count == 3, CommandLine.arguments[1] == HDF5Isolation.childCommand {
    exit(HDF5Isolation.runChild(path: CommandLine.arguments[2]))
}
#if os(Linux)
// The running executable itself, even if its file was replaced or deleted since.
HDF5Isolation.configuration = .init(executable: "/proc/self/exe")
#else
HDF5Isolation.configuration = Bundle.main.executablePath.map { .init(executable: $0) }
#endif

struct Nanoforge: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nanoforge",
        abstract: "Compress a trained model into a nano model, with a report of what each step cost.",
        subcommands: [CompressCommand.self, EvalCommand.self, CompareCommand.self, ExportCommand.self, DemoCommand.self, EmbedCommand.self, GenerateCommand.self, InspectCommand.self, BenchCommand.self, ServeCommand.self])
}

// Which compiled kernel set runs (KernelSet): read once here, at the edge; NANOFORGE_KERNELS=avx2
// forces the baseline, and a name this CPU cannot run is refused before any work starts.
do {
    try KernelSet.select(environment: ProcessInfo.processInfo.environment)
} catch {
    FileHandle.standardError.write(Data("nanoforge: \(error)\n".utf8))
    exit(64)
}

Nanoforge.main()
