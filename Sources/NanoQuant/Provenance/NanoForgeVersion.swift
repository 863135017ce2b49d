/// The nanoforge version every file it writes records (`nanoforge.version`): here, below the
/// compressor and the exporters, since both write it.
public enum NanoForgeVersion {
    public static let string = "0.1.0"
}
