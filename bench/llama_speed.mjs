// llama.cpp's prefill and decode speed on a GGUF file (node-llama-cpp's CPU build), as
// bench_decode measures Bonsai's: a prompt of random token ids evaluated in one batch, then
// decode steps of one token on the cache, each repeat from an empty cache.
//
// usage: node llama_speed.mjs MODEL.gguf [--prompt N] [--tokens N] [--repeats N] [--threads N]
// (node-llama-cpp must resolve from the script's folder: bench_decode runs a copy beside a
// link to tests/interop/node_modules).
// Prints one JSON object: {"prefill_tokens_per_second", "decode_tokens_per_second",
// "prefill_ms": [...], "decode_ms_per_token": [...]} (medians over the repeats).
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const args = process.argv.slice(2);
const opt = (name, def) => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : def;
};
const modelPath = args[0];
const promptLen = opt("--prompt", 128), tokens = opt("--tokens", 32), repeats = opt("--repeats", 3);
const threads = opt("--threads", 2);
const median = (v) => {
    const s = [...v].sort((a, b) => a - b);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({
    contextSize: promptLen + tokens + 8, batchSize: promptLen, sequences: 1, threads,
});
const sequence = context.getSequence();
let seed = 1234;
const rand = () => (seed = (seed * 1664525 + 1013904223) >>> 0);
const vocab = 1024; // the benchmark checkpoint's vocabulary
const prompt = Array.from({length: promptLen}, () => 3 + (rand() >>> 8) % (vocab - 3));

const prefill = [], decode = [];
for (let r = -1; r < repeats; ++r) { // repeat -1 warms up
    await sequence.clearHistory();
    let t0 = performance.now();
    await sequence.evaluateWithoutGeneratingNewTokens(prompt);
    const tp = performance.now() - t0;
    // Decode steps: one token per evaluation on the cache (node-llama-cpp's sampling loop,
    // evaluate(), adds its own scheduling time per token, so the ids are fed as they come).
    t0 = performance.now();
    for (let n = 0; n < tokens; ++n)
        await sequence.evaluateWithoutGeneratingNewTokens([3 + (rand() >>> 8) % (vocab - 3)]);
    const td = (performance.now() - t0) / tokens;
    if (r >= 0) {
        prefill.push(tp);
        decode.push(td);
    }
}
await context.dispose();
await model.dispose();
await llama.dispose();
process.stdout.write(JSON.stringify({
    prefill_tokens_per_second: promptLen / (median(prefill) / 1000),
    decode_tokens_per_second: 1000 / median(decode),
    prefill_ms: prefill, decode_ms_per_token: decode,
}) + "\n");
