// nanoforge's compression layer: recipes, the pass registry and its passes, quantization and
// pruning algorithms, evaluation tasks and the report. The quantization numerics and the packed
// format it writes are NanoQuant's; `NanoForgeVersion` is there too.
