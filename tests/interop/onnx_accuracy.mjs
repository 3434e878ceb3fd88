// Top-1 accuracy of an ONNX classifier under ONNX Runtime (onnxruntime-node, CPU, 2 threads)
// on an IDX image set (gzip or raw), preprocessed as Bonsai's data sets are: uint8 / 255,
// NCHW [N, 1, H, W].
//
// usage: node onnx_accuracy.mjs MODEL.onnx IMAGES.idx3[.gz] LABELS.idx1[.gz] [--basic] [--exact]
//   --basic: graph optimizations at "basic" only (the default level is "all").
//   --exact: the session config entry session.qdq_matmulnbits_accuracy_level = "1", so that a
//            DequantizeLinear -> MatMul rewritten into MatMulNBits keeps float activations
//            (by default ORT computes it with 8-bit activations).
// Prints {"accuracy", "samples", "correct"}.
import fs from "node:fs";
import zlib from "node:zlib";
import ort from "onnxruntime-node";

const args = process.argv.slice(2);
const basic = args.includes("--basic"), exact = args.includes("--exact");
const [modelPath, imagesPath, labelsPath] = args.filter((a) => !a.startsWith("--"));
const read = (p) => (p.endsWith(".gz") ? zlib.gunzipSync(fs.readFileSync(p)) : fs.readFileSync(p));
const images = read(imagesPath), labels = read(labelsPath);
if (images.readUInt32BE(0) !== 2051 || labels.readUInt32BE(0) !== 2049) throw new Error("not IDX images/labels");
const n = images.readUInt32BE(4), h = images.readUInt32BE(8), w = images.readUInt32BE(12);
if (labels.readUInt32BE(4) !== n) throw new Error("image and label counts differ");

const session = await ort.InferenceSession.create(modelPath, {
    intraOpNumThreads: 2, interOpNumThreads: 1,
    graphOptimizationLevel: basic ? "basic" : "all",
    ...(exact ? {extra: {session: {qdq_matmulnbits_accuracy_level: "1"}}} : {}),
});
const input = session.inputNames[0], output = session.outputNames[0];
const batch = 500;
let correct = 0;
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
process.stdout.write(JSON.stringify({accuracy: correct / n, samples: n, correct}) + "\n");
