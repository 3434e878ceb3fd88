// Top-1 accuracy of an ONNX classifier under ONNX Runtime (onnxruntime-node, CPU, 2 threads)
// on an IDX image set (gzip or raw), preprocessed as Bonsai's data sets are: uint8 / 255,
// NCHW [N, 1, H, W].
//
// usage: node onnx_accuracy.mjs MODEL.onnx IMAGES.idx3[.gz] LABELS.idx1[.gz] [--basic] [--exact]
//                                [--threads N] [--batch B] [--repeat R]
//   --basic: graph optimizations at "basic" only (the default level is "all").
//   --exact: the session config entry session.qdq_matmulnbits_accuracy_level = "1", so that a
//            DequantizeLinear -> MatMul rewritten into MatMulNBits keeps float activations
//            (by default ORT computes it with 8-bit activations).
//   --threads (default 2), --batch (default 500), --repeat (default 1): the evaluation is run R
//            times and timed: reading and converting the images, every run and the arg-max
//            (not the session's creation), in "seconds", one per run.
// Prints {"accuracy", "samples", "correct", "seconds"}.
import fs from "node:fs";
import zlib from "node:zlib";
import ort from "onnxruntime-node";

const args = process.argv.slice(2);
const basic = args.includes("--basic"), exact = args.includes("--exact");
const valued = ["--threads", "--batch", "--repeat"];
const option = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const threads = option("--threads", 2), batch = option("--batch", 500), repeat = option("--repeat", 1);
const [modelPath, imagesPath, labelsPath] = args.filter((a, k) => !a.startsWith("--") && !valued.includes(args[k - 1]));
const read = (p) => (p.endsWith(".gz") ? zlib.gunzipSync(fs.readFileSync(p)) : fs.readFileSync(p));

const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: basic ? "basic" : "all",
    ...(exact ? {extra: {session: {qdq_matmulnbits_accuracy_level: "1"}}} : {}),
});
const input = session.inputNames[0], output = session.outputNames[0];
const seconds = [];
let correct = 0, n = 0;
for (let r = 0; r < repeat; ++r) {
const t0 = process.hrtime.bigint();
const images = read(imagesPath), labels = read(labelsPath);
if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049) throw new Error("not IDX images/labels");
n = images.readUInt32BE(4);
const h = images.readUInt32BE(8), w = images.readUInt32BE(12);
if (labels.readUInt32BE(4) !== n) throw new Error("image and label counts differ");
correct = 0;
for (let start = 0; start < n; start += batch) {
    const m = Math.min(batch, n - start);
    const x = new Float32Array(m * h * w);
    for (let i = 0; i < m * h * w; ++i) x[i] = images[16 + start * h * w + i] / 255;
    const result = await session.run({[input]: new ort.Tensor("float32", x, [m, 1, h, w])});
    const logits = result[output].data, classes = logits.length / m;
    for (let i = 0; i < m; ++i) {
        let best = 0;
        for (let c = 1; c < classes; ++c) if (logits[i * classes + c] > logits[i * classes + best]) best = c;
        if (best === labels[8 + start + i]) ++correct;
    }
}
seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
process.stdout.write(JSON.stringify({accuracy: correct / n, samples: n, correct, seconds}) + "\n");
