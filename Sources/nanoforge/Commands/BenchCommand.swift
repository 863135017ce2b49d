import ArgumentParser
import Foundation
import NanoTensor
import NanoRuntime

/// `nanoforge bench SUITE`: prints figures and writes JSON under bench/results/.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark suite against its reference in the same run and write bench/results/SUITE.json.")

    enum Suite: String, ExpressibleByArgument, CaseIterable { case core, minilm, quantize, distill, memory, runtime, llm
        case llmQuant = "llm-quant"
        case llmRuntime = "llm-runtime"
        case serve }

    @Argument(help: "The suite to run: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite

    @Option(help: "Folder for the JSON results.")
    var output = "bench/results"

    @Option(help: "Python with numpy (reference GFLOP/s).")
    var python = "python3"

    @Option(help: "Python with torch (reference training step); skipped when it cannot import torch.")
    var torchPython = ".venv-bench/bin/python"

    @Option(help: "Model folder for the minilm suite.")
    var model = ".cache/models/all-MiniLM-L6-v2"

    @Option(help: "Sentences for the minilm suite, one per line.")
    var sentences = ".cache/data/pydoc-sentences.txt"

    @Option(help: "Recipes for the quantize suite, run in this order in one process.")
    var recipes = ["Recipes/minilm-int4-rtn.yaml", "Recipes/minilm-int4-gptq.yaml"]

    @Option(help: "Recipe whose distill stage the distill suite times (its model is the teacher).")
    var distillRecipe = "Recipes/minilm-nano.yaml"
    @Option(help: "Recipe whose `compress` peak memory the memory suite measures.")
    var memoryRecipe = "Recipes/minilm-int8.yaml"

    @Option(help: "Packed int8 MiniLM for the runtime suite (nanoforge compress Recipes/minilm-int8.yaml).")
    var int8Model = "out/minilm-int8"

    @Option(help: "Packed int8 MiniLM with dynamic int8 activations for the runtime suite's goal row (nanoforge compress Recipes/minilm-int8-dynamic.yaml).")
    var int8DynamicModel = "out/minilm-int8-dynamic"

    @Option(help: "Packed int4 group-128 MiniLM for the runtime suite (nanoforge compress Recipes/minilm-int4-rtn.yaml).")
    var int4Model = "out/minilm-int4-rtn"

    @Option(help: "Python with onnxruntime for the runtime suite's ONNX engines.")
    var ortPython = ".venv-bench/bin/python"

    @Option(help: .hidden) var engineModel: String?
    @Option(help: .hidden) var engineKernel: String = "scheme"
    @Option(help: .hidden) var inputs: String?
    @Flag(help: "Runtime suite: only the Linear kernel rates (printed, no JSON written).") var kernelsOnly = false

    @Option(help: "Llama-family model for the llm suite (GGUF, or config.json + safetensors).")
    var llmModel = ".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"

    @Option(help: "llm-quant: folder of llama.cpp's llama-quantize, llama-imatrix and llama-perplexity (scripts/interop/build_llama_cpp.sh).")
    var llamaCpp = ".cache/tools/llama.cpp/bin"

    @Option(help: "llm-quant: recipes whose `compress` output is scored as a GGUF file (exported by `nanoforge export --format gguf` unless the output folder holds one); repeat the option for each.")
    var ggufRecipe: [String] = []

    @Option(help: "llm-quant: a GGUF file made outside the bench, as LABEL=PATH; repeat the option for each.")
    var gguf: [String] = []

    @Option(help: "llm-quant: recipes with nanoforge's packed output, scored by `nanoforge eval --task kl_divergence`; repeat the option for each.")
    var packedRecipe: [String] = []

    @Option(help: "llm-quant: a packed model folder compressed outside the bench, as LABEL=FOLDER (scored only); repeat the option for each.")
    var packed: [String] = []

    @Flag(help: "llm-quant: keep the reference, imatrix and llama.cpp rows of the earlier bench/results/llm-quant.json (its logits still in out/bench-llm-quant) and run only nanoforge's rows.")
    var keepLlamaCpp = false

    @Flag(help: "llm-quant: reuse what an interrupted run left in out/bench-llm-quant (reference logits, imatrix, finished scores; their time is then not measured).")
    var resume = false

    @Option(help: "llm-quant: evaluation chunks of 512 tokens (the first ones of the text; 0: all 98).")
    var chunks = 16

    @Option(help: "llm-runtime: GGUF files run by both engines; repeat the option for each (the nano model, \(LLMRuntimeBenchmark.nanoModel), is skipped with a line when `compress Recipes/smollm2-nano.yaml` has not made it).")
    var runtimeGGUF = [".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf",
                       ".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q8_0.gguf",
                       ".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_0.gguf",
                       LLMRuntimeBenchmark.nanoModel]

    @Option(help: "serve: the GGUF decoder both servers load.")
    var serveGGUF = ".cache/models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf"
    @Option(help: "serve: the sentence encoder nanoforge serve loads for the embeddings load ('' to skip).")
    var serveEncoder = ".cache/models/all-MiniLM-L6-v2"
    @Option(help: "serve: concurrent clients.")
    var clients = 4
    @Option(help: "serve: seconds of load per server.")
    var seconds = 30.0
    @Option(help: "serve: max_tokens of each completion.")
    var serveMaxTokens = 32

    @Option(help: "Threads for the timed work (ours and the references).")
    var threads = 2

    func run() throws {
        if engineModel == nil { print("kernel set: \(KernelSet.current.name) (\(KernelSet.environmentVariable); this CPU runs \(KernelSet.available.map(\.name).joined(separator: ", ")))") }
        switch suite {
        case .core:
            let result = try CoreBenchmark(python: python, torchPython: torchPython, threads: threads).run()
            try BenchmarkOutput.write(result, to: output + "/core.json")
        case .minilm:
            try CLIErrors.reporting {
                let result = try MiniLMBenchmark(model: model, sentences: sentences, torchPython: torchPython, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/minilm.json")
            }
        case .runtime:
            try CLIErrors.reporting {
                if let engineModel {
                    // One engine in this process (the suite runs each engine in its own process).
                    guard let kernel = RuntimeKernel(rawValue: engineKernel), let inputs else {
                        throw CLIErrors.BadInput("--engine-model needs --inputs and --engine-kernel " + RuntimeKernel.allCases.map(\.rawValue).joined(separator: "|"))
                    }
                    let row = try RuntimeBenchmark.engine(model: engineModel, kernel: kernel, inputs: inputs, threads: threads)
                    print(String(decoding: try JSONSerialization.data(withJSONObject: row), as: UTF8.self))
                    return
                }
                if kernelsOnly {
                    RuntimeBenchmark.printKernelRates(try RuntimeBenchmark.kernelRates(threads: threads))
                    return
                }
                let result = try RuntimeBenchmark(fp32Model: model, int8Model: int8Model, int8DynamicModel: int8DynamicModel, int4Model: int4Model, sentences: sentences,
                                                  python: ortPython, torchPython: torchPython, threads: threads,
                                                  workDir: "out/bench-runtime").run()
                try BenchmarkOutput.write(result, to: output + "/runtime.json")
            }
        case .quantize:
            try CLIErrors.reporting {
                let result = try QuantizeBenchmark(recipes: recipes, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/quantize.json")
            }
        case .distill:
            try CLIErrors.reporting {
                let result = try DistillBenchmark(recipe: distillRecipe, torchPython: torchPython, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/distill.json")
            }
        case .llm:
            try CLIErrors.reporting {
                let result = try LLMBenchmark(model: llmModel, torchPython: torchPython, threads: threads).run()
                try BenchmarkOutput.write(result, to: output + "/llm.json")
            }
        case .llmQuant:
            try CLIErrors.reporting {
                var result = LLMQuantBenchmark(model: llmModel, llamaCpp: llamaCpp, nanoforge: MemoryBenchmark.ownExecutable(),
                                                   ggufRecipes: ggufRecipe, ggufFiles: gguf, packedRecipes: packedRecipe,
                                                   pydocSentences: sentences, bible: ".cache/data/bible-kjv-web.tsv",
                                                   chunks: chunks > 0 ? chunks : nil, threads: threads, workDir: "out/bench-llm-quant")
                result.resume = resume
                result.packedFolders = packed
                let path = output + "/llm-quant.json"
                var previous: [String: Any]?
                if keepLlamaCpp {
                    guard let data = FileManager.default.contents(atPath: path),
                          let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], let earlier = json["llm_quant"] as? [String: Any] else {
                        throw CLIErrors.BadInput("--keep-llama-cpp: \(path) holds no earlier llm-quant run")
                    }
                    previous = earlier
                }
                try BenchmarkOutput.write(try result.run(previous: previous), to: path)
            }
        case .llmRuntime:
            try CLIErrors.reporting {
                if let engineModel {
                    // One engine in this process: the suite measures each in its own process.
                    let row = try LLMRuntimeBenchmark.engine(model: engineModel, dense: engineKernel == "dense", threads: threads)
                    print(String(decoding: try JSONSerialization.data(withJSONObject: row), as: UTF8.self))
                    return
                }
                let result = try LLMRuntimeBenchmark(files: runtimeGGUF, llamaCpp: llamaCpp, nanoforge: MemoryBenchmark.ownExecutable(),
                                                     threads: threads, workDir: "out/bench-llm-runtime").run()
                try BenchmarkOutput.write(result, to: output + "/llm-runtime.json")
            }
        case .serve:
            try CLIErrors.reporting {
                guard clients > 0, clients <= 64, seconds > 0, seconds <= 600 else {
                    throw CLIErrors.BadInput("--clients must lie in 1…64 and --seconds in (0, 600]")
                }
                let result = try ServeBenchmark(decoder: serveGGUF, encoder: serveEncoder.isEmpty ? nil : serveEncoder, llamaCpp: llamaCpp,
                                                nanoforge: MemoryBenchmark.ownExecutable(), clients: clients, duration: seconds,
                                                maxTokens: serveMaxTokens, threads: threads, workDir: "out/bench-serve").run()
                try BenchmarkOutput.write(result, to: output + "/serve.json")
            }
        case .memory:
            try CLIErrors.reporting {
                let result = try MemoryBenchmark(recipe: memoryRecipe, model: model, executable: MemoryBenchmark.ownExecutable()).run()
                try BenchmarkOutput.write(result, to: output + "/memory.json")
            }
        }
    }
}
