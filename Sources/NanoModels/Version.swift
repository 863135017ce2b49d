public enum NanoModelsVersion { public static let string = "0.1.0" }
