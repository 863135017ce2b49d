import Foundation

/// Reads an HDF5 file in a child process before this process hands it to libhdf5.
///
/// Debian's libhdf5 1.10.8 crashes (SIGSEGV, overlapping memcpy, reads past its buffers) or loops
/// forever on some corrupt files, inside ordinary API calls (docs/robustness.md); no check of ours
/// can run first without reimplementing HDF5. So `HDF5CheckpointReader.read(path:)` and
/// `layout(path:)` first run `executable arguments… FILE`, which does exactly the in-process read
/// (`runChild(path:)`), and map the outcome:
///
/// - exit 0: the file is read again in this process;
/// - exit 1: the child's `CheckpointError`, as the in-process read would have thrown it;
/// - killed by a signal, or still running after `timeout(fileSize:)` (then killed):
///   `CheckpointError.libraryFailed` naming the file, and nothing is loaded.
///
/// Off unless `configuration` is set: the `nanoforge` CLI sets it at start-up to itself
/// (`/proc/self/exe __check-hdf5`); a library user who does not keeps in-process reads, where a
/// hostile file can crash or hang the caller. `NANOFORGE_HDF5_ISOLATION=0` turns it off anyway.
/// A file is checked once per process while its path, device, inode, size and modification time
/// stay the same. `read(data:source:)` (bytes in memory) is never isolated.
public enum HDF5Isolation {
    public struct Configuration: Sendable {
        /// The program to run; it must call `runChild(path:)` when given `arguments` then the path.
        public var executable: String
        public var arguments: [String]

        public init(executable: String, arguments: [String] = [HDF5Isolation.childCommand]) {
            self.executable = executable
            self.arguments = arguments
        }
    }

    /// The hidden CLI subcommand that runs the child half: `nanoforge __check-hdf5 FILE`.
    public static let childCommand = "__check-hdf5"
    /// Environment variable: `0` turns isolation off.
    public static let switchVariable = "NANOFORGE_HDF5_ISOLATION"
    /// Environment variable: seconds the child may take, replacing `timeout(fileSize:)`.
    public static let timeoutVariable = "NANOFORGE_HDF5_TIMEOUT"

    private static let lock = NSLock()
    nonisolated(unsafe) private static var current: Configuration?
    nonisolated(unsafe) private static var verdicts: [FileIdentity: CheckpointError?] = [:]

    /// Where reads are checked; nil (the default): in-process reads only.
    public static var configuration: Configuration? {
        get { lock.lock(); defer { lock.unlock() }; return current }
        set { lock.lock(); defer { lock.unlock() }; current = newValue }
    }

    /// Seconds the child may take on a file of `fileSize` bytes: 30 s plus 10 s for every
    /// started 100 MB. The check reads a 91 MB checkpoint in under 0.5 s on a loaded 2-core
    /// machine, so only a hang (or a machine some 100 times slower) reaches it; a hostile file of
    /// a few KB that loops forever is stopped after 40 s. `NANOFORGE_HDF5_TIMEOUT` overrides it.
    public static func timeout(fileSize: Int, environment: [String: String] = ProcessInfo.processInfo.environment) -> Double {
        if let text = environment[timeoutVariable], let seconds = Double(text), seconds > 0 { return seconds }
        return 30 + 10 * Double((max(0, fileSize) + 99_999_999) / 100_000_000)
    }

    /// Checks `path` in a child process when isolation is configured and on; throws what the
    /// child's read threw, or `libraryFailed` when libhdf5 crashed or hung in it.
    static func check(path: String) throws {
        let environment = ProcessInfo.processInfo.environment
        guard environment[switchVariable] != "0", let configuration else { return }
        try check(path: path, configuration: configuration, environment: environment)
    }

    /// `check(path:)` with an explicit configuration (tests); the verdict is cached per file.
    static func check(path: String, configuration: Configuration,
                      environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        // Missing files, folders and empty files are refused in-process before libhdf5 is called.
        guard let identity = FileIdentity(path), identity.size > 0 else { return }
        lock.lock()
        let cached = verdicts[identity]
        lock.unlock()
        if let cached {
            if let error = cached { throw error }
            return
        }
        let verdict = runCheck(path: path, size: identity.size, configuration: configuration, environment: environment)
        lock.lock()
        verdicts[identity] = verdict
        lock.unlock()
        if let verdict { throw verdict }
    }

    private static func runCheck(path: String, size: Int, configuration: Configuration,
                                 environment: [String: String]) -> CheckpointError? {
        var childEnvironment = environment
        // A crash should end the child at once: the Swift runtime's backtracer would spend
        // seconds symbolicating a stack that is libhdf5's.
        childEnvironment["SWIFT_BACKTRACE"] = "enable=no"
        let seconds = timeout(fileSize: size, environment: environment)
        let outcome = ChildProcess.run(configuration.executable, configuration.arguments + [path],
                                       environment: childEnvironment, timeout: seconds)
        let said = lastLine(outcome.stderr).map { "; it printed: \($0)" } ?? ""
        switch outcome.termination {
        case .exited(0):
            return nil
        case .exited(1):
            if let error = try? JSONDecoder().decode(CheckpointError.self, from: outcome.stdout) { return error }
            return .hdf5(file: path, object: "/", reason: "the HDF5 check process failed\(said)")
        case .exited(let code):
            return .libraryFailed(file: path, reason: "the HDF5 check process (\(configuration.executable)) exited with status \(code)\(said); nothing was loaded")
        case .signaled(let signal):
            return .libraryFailed(file: path, reason: "libhdf5 crashed while reading this file (signal \(signal), \(ChildProcess.signalName(signal)))\(said): the file is corrupt or crafted; nothing was loaded")
        case .timedOut:
            return .libraryFailed(file: path, reason: "libhdf5 did not finish reading this file within \(format(seconds)) s (the check process was stopped): the file is corrupt or crafted, or the machine is extremely slow (\(timeoutVariable)=SECONDS allows longer); nothing was loaded")
        case .notStarted(let error):
            return .libraryFailed(file: path, reason: "cannot start the HDF5 check process \(configuration.executable): \(String(cString: strerror(error))); nothing was loaded (\(switchVariable)=0 reads in-process)")
        }
    }

    /// The child half: reads `path` exactly as `HDF5CheckpointReader.read(path:)` does in-process.
    /// Returns the exit status: 0 when it reads, 1 with the error as JSON on stdout (and its
    /// message on stderr) when it throws.
    public static func runChild(path: String) -> Int32 {
        // A crash in libhdf5 must not leave a core file behind.
        var noCore = rlimit(rlim_cur: 0, rlim_max: 0)
        #if os(Linux)
        _ = setrlimit(__rlimit_resource_t(RLIMIT_CORE.rawValue), &noCore)
        #else
        _ = setrlimit(RLIMIT_CORE, &noCore)
        #endif
        do {
            _ = try HDF5CheckpointReader.readInProcess(path: path)
            return 0
        } catch let error as CheckpointError {
            if let json = try? JSONEncoder().encode(error) { FileHandle.standardOutput.write(json) }
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            return 1
        } catch {
            FileHandle.standardError.write(Data("error: \(path): \(error)\n".utf8))
            return 1
        }
    }

    private static func lastLine(_ data: Data) -> String? {
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard let line = text.split(separator: "\n").last else { return nil }
        return String(line.prefix(300))
    }

    private static func format(_ seconds: Double) -> String {
        seconds == seconds.rounded() ? String(Int(seconds)) : String(format: "%.1f", seconds)
    }

    /// What makes two reads of a path the same file with the same bytes, as far as `stat` tells.
    struct FileIdentity: Hashable {
        let path: String
        let device: UInt64, inode: UInt64
        let size: Int
        let modified: Int, modifiedNanoseconds: Int

        init?(_ path: String) {
            var s = stat()
            guard stat(path, &s) == 0, s.st_mode & S_IFMT == S_IFREG else { return nil }
            self.path = path
            device = UInt64(s.st_dev)
            inode = UInt64(s.st_ino)
            size = Int(s.st_size)
            modified = Int(s.st_mtim.tv_sec)
            modifiedNanoseconds = Int(s.st_mtim.tv_nsec)
        }
    }
}
