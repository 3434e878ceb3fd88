#!/usr/bin/env python3
"""Reference results from PyTorch for tst_onnx_reference (run by hand, not by CI).

Trains a small Fashion-MNIST MLP (Flatten, 784-128-ReLU-10) with PyTorch, exports it to
ONNX and records what PyTorch computes with it, so that the test can check that Bonsai's
evaluation matches a reference framework on a model that framework exported:

  torch_mlp.onnx   opset 13, input "image" [N,1,28,28] (dynamic batch axis), output "logits"
  torch_mlp.json   accuracy            top-1 of the exported float32 model, 10,000 test images
                   accuracy_int8_channel   after weight-only INT8 symmetric per output channel
                   accuracy_int4_g32       after weight-only INT4 symmetric, groups of 32
                   logits              [16][10] float32 logits of the first 16 test images
                   torch_version, seed, command

Preprocessing is Bonsai's default: uint8 / 255 as float32, NCHW [N,1,28,28].

Weight-only quantization follows Bonsai's definition (core/include/bonsai/quantize.h) on
every Linear weight, seen as [out, in] (rows = output channels; the exported Gemm has
transB=1, so Bonsai's layer has its output-channel axis 0 as well); biases are unchanged:
  scale = fp16(max|w| / qmax)  over the row (per channel) or over 32 consecutive weights of a
                               row (groups; the last group of a row may be shorter)
  q     = clamp(round(w / scale), -qmax, qmax)  with round half to even (torch.round)
  w'    = q * scale
with qmax = 127 (INT8) or 7 (INT4). A zero scale dequantizes to 0.

Requirements (Debian 12): apt-get install python3-torch python3-onnx
Data: /usr/share/datasets/fashion-mnist (package dataset-fashion-mnist).
Usage, from the repository root:
  python3 tests/data/reference/make_reference.py   (Debian's /usr/bin/python3, which has torch)
Training takes about two minutes on two threads (a few more while importing torch on a busy machine).
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

SEED = 1234
DATA = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_PATH = os.path.join(HERE, "torch_mlp.onnx")
JSON_PATH = os.path.join(HERE, "torch_mlp.json")
COMMAND = "python3 tests/data/reference/make_reference.py"


def read_idx(name):
    with gzip.open(os.path.join(DATA, name), "rb") as f:
        data = f.read()
    magic = struct.unpack(">I", data[:4])[0]
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(name):
    # Bonsai's default preprocessing: uint8 / 255 in float32, NCHW [N,1,28,28].
    x = torch.from_numpy(read_idx(name).copy()).float() / 255.0
    return x.reshape(-1, 1, 28, 28)


def labels(name):
    return torch.from_numpy(read_idx(name).astype(np.int64))


def fake_quant_rows(w, qmax, group=None):
    """Symmetric fake quantization of a [out, in] weight, per row or per group of a row."""
    rows, cols = w.shape
    out = torch.empty_like(w)
    step = cols if group is None else group
    for start in range(0, cols, step):
        block = w[:, start:start + step]
        amax = block.abs().amax(dim=1, keepdim=True)
        scale = (amax / qmax).half().float()  # FP16 scale (round to nearest even)
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        q = torch.clamp(torch.round(block / safe), -qmax, qmax)
        out[:, start:start + step] = torch.where(scale > 0, q * scale, torch.zeros_like(block))
    return out


def accuracy(model, x, y):
    with torch.no_grad():
        pred = model(x).argmax(dim=1)
    return (pred == y).double().mean().item()


def quantized_accuracy(model, x, y, qmax, group=None):
    original = {}
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                original[name] = m.weight.detach().clone()
                w = m.weight.reshape(m.weight.shape[0], -1)
                m.weight.copy_(fake_quant_rows(w, qmax, group).reshape(m.weight.shape))
        acc = accuracy(model, x, y)
        for name, m in model.named_modules():
            if name in original:
                m.weight.copy_(original[name])
    return acc


def main():
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    torch.set_num_threads(2)

    x_train, y_train = images("train-images-idx3-ubyte.gz"), labels("train-labels-idx1-ubyte.gz")
    x_test, y_test = images("t10k-images-idx3-ubyte.gz"), labels("t10k-labels-idx1-ubyte.gz")

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(3):
        model.train()
        perm = torch.randperm(x_train.shape[0], generator=gen)
        for i in range(0, x_train.shape[0], 128):
            idx = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
        model.eval()
        print(f"epoch {epoch + 1}: loss {loss.item():.4f}, "
              f"test accuracy {accuracy(model, x_test, y_test):.4f}", file=sys.stderr)

    model.eval()
    torch.onnx.export(model, x_test[:1], ONNX_PATH, opset_version=13,
                      input_names=["image"], output_names=["logits"],
                      dynamic_axes={"image": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)

    with torch.no_grad():
        logits = model(x_test[:16])
    result = {
        "model": "torch_mlp.onnx",
        "description": "Fashion-MNIST MLP Flatten-784-128-ReLU-10, 3 epochs Adam lr 1e-3 batch 128; "
                       "preprocessing uint8/255, NCHW [N,1,28,28]; accuracies on the 10,000 test "
                       "images; weight-only symmetric quantization of every Linear weight per "
                       "output row, FP16 scales, round half to even, biases unchanged",
        "accuracy": accuracy(model, x_test, y_test),
        "accuracy_int8_channel": quantized_accuracy(model, x_test, y_test, 127),
        "accuracy_int4_g32": quantized_accuracy(model, x_test, y_test, 7, group=32),
        "logits": [[float(v) for v in row] for row in logits.tolist()],
        "torch_version": torch.__version__,
        "seed": SEED,
        "command": COMMAND,
    }
    with open(JSON_PATH, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in result.items() if k != "logits"}, indent=1))


if __name__ == "__main__":
    main()
