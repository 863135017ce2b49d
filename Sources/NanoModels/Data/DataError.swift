/// A problem with a data file, naming the file and where in it.
public enum DataError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case malformed(file: String, line: Int, reason: String)
    case empty(file: String)

    public var description: String {
        switch self {
        case .unreadable(let file, let reason): return "\(file): cannot read: \(reason)"
        case .malformed(let file, let line, let reason): return "\(file):\(line): \(reason)"
        case .empty(let file): return "\(file): no data"
        }
    }
}
