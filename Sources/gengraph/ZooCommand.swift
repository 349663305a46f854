import ArgumentParser
import GenGraph

struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "zoo", abstract: "List the built-in models, or print one's .gg source.",
        subcommands: [List.self, Show.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per built-in model.")
        func run() throws {
            for name in DSLZoo.names {
                let summary = (try? DSLZoo.model(named: name))??.summary ?? ""
                print(name.padding(toLength: 12, withPad: " ", startingAt: 0) + summary)
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a built-in model's source, to copy and change.")
        @Argument(help: "A zoo model name.")
        var name: String
        func run() throws {
            guard let text = DSLZoo.source(named: name) else {
                throw CLIError("unknown model '\(name)'; zoo models: \(DSLZoo.names.joined(separator: ", "))")
            }
            print(text, terminator: text.hasSuffix("\n") ? "" : "\n")
        }
    }
}
