// Perplexity of a GGUF model under llama.cpp (node-llama-cpp's CPU build), on token ids given
// by the caller, so that the tokenizer is not part of the comparison.
//
// usage: node llama_perplexity.mjs MODEL.gguf CHUNKS.json [--exact] [--tokenize=TEXT_FILE]
//   CHUNKS.json: [[bos, id, id, ...], ...]; every id after the first of a chunk is scored
//   from the ids before it (the first from BOS alone).
//   --exact: F32 KV cache and no flash attention (llama.cpp's defaults store K/V in F16).
//   --tokenize: also llama.cpp's own token ids of the file's text (special tokens parsed as
//   such, no BOS added), as "tokenized".
// Prints one JSON object: {"perplexity", "tokens", "types": {ggml type: tensor count}[, "tokenized"]}.
import fs from "node:fs";
import {getLlama, readGgufFileInfo, GgmlType, LlamaLogLevel} from "node-llama-cpp";

const args = process.argv.slice(2);
const exact = args.includes("--exact");
const tokenizeArg = args.find((a) => a.startsWith("--tokenize="));
const [modelPath, chunksPath] = args.filter((a) => !a.startsWith("--"));
if (!modelPath || !chunksPath) {
    console.error("usage: node llama_perplexity.mjs MODEL.gguf CHUNKS.json [--exact] [--tokenize=TEXT_FILE]");
    process.exit(2);
}
const chunks = JSON.parse(fs.readFileSync(chunksPath, "utf8"));

// The tensor types as node-llama-cpp's own GGUF reader sees them.
const info = await readGgufFileInfo(modelPath, {logWarnings: false});
const types = {};
for (const t of info.fullTensorInfo) {
    const name = GgmlType[t.ggmlType] ?? String(t.ggmlType);
    types[name] = (types[name] ?? 0) + 1;
}

const errors = [];
const llama = await getLlama({
    gpu: false, build: "never", logLevel: LlamaLogLevel.warn,
    logger(level, message) {
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) errors.push(message);
    },
});
let model;
try {
    model = await llama.loadModel({modelPath, gpuLayers: 0});
} catch (e) {
    console.error(`llama.cpp cannot load ${modelPath}: ${e.message}\n${errors.join("\n")}`);
    process.exit(1);
}
const tokenized = tokenizeArg
    ? Array.from(model.tokenize(fs.readFileSync(tokenizeArg.slice("--tokenize=".length), "utf8"), true))
    : undefined;
const longest = Math.max(...chunks.map((c) => c.length));
// A sequence keeps one cell free; one more than the longest chunk avoids any context shift.
const context = await model.createContext({
    contextSize: longest + 1, batchSize: longest + 1, sequences: 1, threads: 2,
    flashAttention: !exact,
    ...(exact ? {experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32"} : {}),
});
const sequence = context.getSequence({
    contextShift: {strategy: () => { throw new Error("context shift: the context is too small"); }},
});
let nll = 0, scored = 0;
for (const ids of chunks) {
    await sequence.clearHistory();
    // Each position but the last asks for the whole next-token distribution (softmax of the
    // logits: the default sampler at temperature 0 changes nothing).
    const input = ids.map((id, i) => (i + 1 < ids.length ? [id, {generateNext: {probabilities: true}}] : id));
    const out = await sequence.controlledEvaluate(input);
    for (let i = 0; i + 1 < ids.length; ++i) {
        const p = out[i]?.next?.probabilities?.get(ids[i + 1]) ?? 0;
        nll -= Math.log(p);
        ++scored;
    }
}
await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify({perplexity: Math.exp(nll / scored), tokens: scored, types, tokenized}) + "\n");
