/// Every model family nanoforge knows, in the order configurations are tried. Adding a family is
/// one line here and one folder beside this file (docs/adding-an-architecture.md).
public enum Architectures {
    public static let all: [any ModelArchitecture.Type] = [
        BertArchitecture.self,
        GPTDecoderArchitecture.self,
        MLPClassifierArchitecture.self,
        LlamaArchitecture.self,
        KerasGraphArchitecture.self,
    ]

    /// The family with native name `name`.
    public static func named(_ name: String) -> (any ModelArchitecture.Type)? {
        all.first { $0.name == name }
    }
}
