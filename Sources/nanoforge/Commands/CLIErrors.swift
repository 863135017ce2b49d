import ArgumentParser
import Foundation
import NanoCheckpoint
import NanoForge
import NanoModels

/// Maps library errors to one clear line on stderr and the CLI's exit codes:
/// 2 for bad input (checkpoint, recipe, data), 1 for anything else.
enum CLIErrors {
    struct BadInput: Error, CustomStringConvertible {
        let description: String
        init(_ message: String) { description = message }
    }

    static func reporting(_ body: () throws -> Void) throws {
        do {
            try body()
        } catch let e as CheckpointError {
            fail(e.description, code: 2)
        } catch let e as DataError {
            fail(e.description, code: 2)
        } catch let e as WordPieceTokenizer.LoadError {
            fail(e.description, code: 2)
        } catch let e as RecipeError {
            fail(e.description, code: 2)
        } catch let e as RecipeErrors {
            fail(e.description, code: 2)
        } catch let e as PipelineError {
            fail(e.description, code: 2)
        } catch let e as BadInput {
            fail(e.description, code: 2)
        } catch let e as ExitCode {
            throw e
        } catch {
            fail("\(error)", code: 1)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(code)
    }
}
