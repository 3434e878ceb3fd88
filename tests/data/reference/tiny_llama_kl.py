#!/usr/bin/python3
"""Reference KL divergence and top-1 agreement for tst_llm (run by hand, not by CI).

An independent Llama forward pass in NumPy (float64), written from the Hugging Face
LlamaForCausalLM modelling code, on the tiny-llama fixture (tests/data/tiny-llama): the
uncompressed checkpoint against round-to-nearest INT4 on every attention and MLP projection
(group 32, symmetric, FP16 scales; embeddings and norms untouched), under Bonsai's
perplexity protocol:

  token ids = SentencePiece encode(eval.txt) without BOS; consecutive chunks of 128 ids;
  each chunk is run as [BOS] + chunk[:-1] and every chunk id is scored.

Per scored token, with p_b = softmax(base logits), p_c = softmax(compressed logits):
  kl_base_compressed = mean over tokens of sum_v p_b(v) (log p_b(v) - log p_c(v))   (nats)
  kl_compressed_base = the reverse direction (to show that a test can tell them apart)
  agreement          = fraction of tokens whose argmax(base) == argmax(compressed)
                       (first index on ties, as NumPy's argmax)
Both are reported over all chunks ("all") and over the first 12 chunks ("chunks_12").

INT4 RTN, per group of 32 consecutive weights of a row [out, in], in float32:
  scale = fp16(max|w| / 7);  q = clamp(rint(w / scale), -7, 7);  w' = q * scale
(rint is round half to even; a zero scale gives 0).

Requirements (Debian 12): apt-get install python3-numpy python3-sentencepiece
Usage, from the repository root:
  /usr/bin/python3 tests/data/reference/tiny_llama_kl.py   (Debian's python3)
writes tests/data/reference/tiny_llama_kl.json (under a minute of CPU time).
"""
import json
import os
import struct

import numpy as np
import sentencepiece as spm

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tiny-llama")
OUT = os.path.join(HERE, "tiny_llama_kl.json")
CTX = 128


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", name
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + end], dtype="<f4").reshape(e["shape"]).copy()
    return out


def rtn_int4_g32(w):
    rows, cols = w.shape
    out = np.empty_like(w)
    for g in range(0, cols, 32):
        blk = w[:, g:g + 32].astype(np.float32)
        amax = np.abs(blk).max(axis=1, keepdims=True)
        scale = (amax / np.float32(7)).astype(np.float16).astype(np.float32)
        safe = np.where(scale == 0, np.float32(1), scale)
        q = np.clip(np.rint(blk / safe), -7, 7)
        out[:, g:g + 32] = np.where(scale == 0, np.float32(0), (q * scale).astype(np.float32))
    return out


class Llama:
    def __init__(self, t, cfg):
        self.t = {k: v.astype(np.float64) for k, v in t.items()}
        self.cfg = cfg
        self.hd = cfg["hidden_size"] // cfg["num_attention_heads"]
        hd = self.hd
        self.inv_freq = 1.0 / (cfg["rope_theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))

    def rms(self, x, g):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.cfg["rms_norm_eps"]) * g

    def rope(self, x):  # x [heads, L, hd], rotate_half convention
        L = x.shape[1]
        ang = np.arange(L, dtype=np.float64)[:, None] * self.inv_freq[None, :]
        emb = np.concatenate([ang, ang], axis=-1)
        cos, sin = np.cos(emb), np.sin(emb)
        h = self.hd // 2
        rot = np.concatenate([-x[..., h:], x[..., :h]], axis=-1)
        return x * cos + rot * sin

    def logits(self, ids):
        t, c = self.t, self.cfg
        H, KV, hd = c["num_attention_heads"], c["num_key_value_heads"], self.hd
        x = t["model.embed_tokens.weight"][ids]
        L = len(ids)
        mask = np.triu(np.full((L, L), -np.inf), 1)
        for b in range(c["num_hidden_layers"]):
            p = "model.layers.%d." % b
            n = self.rms(x, t[p + "input_layernorm.weight"])
            q = (n @ t[p + "self_attn.q_proj.weight"].T).reshape(L, H, hd).transpose(1, 0, 2)
            k = (n @ t[p + "self_attn.k_proj.weight"].T).reshape(L, KV, hd).transpose(1, 0, 2)
            v = (n @ t[p + "self_attn.v_proj.weight"].T).reshape(L, KV, hd).transpose(1, 0, 2)
            q, k = self.rope(q), self.rope(k)
            rep = H // KV
            k, v = np.repeat(k, rep, axis=0), np.repeat(v, rep, axis=0)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            a = (s @ v).transpose(1, 0, 2).reshape(L, H * hd)
            x = x + a @ t[p + "self_attn.o_proj.weight"].T
            n = self.rms(x, t[p + "post_attention_layernorm.weight"])
            g = n @ t[p + "mlp.gate_proj.weight"].T
            u = n @ t[p + "mlp.up_proj.weight"].T
            x = x + (g / (1 + np.exp(-g)) * u) @ t[p + "mlp.down_proj.weight"].T
        x = self.rms(x, t["model.norm.weight"])
        return x @ t["model.embed_tokens.weight"].T


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=-1, keepdims=True))


def main():
    with open(os.path.join(FIXTURE, "config.json")) as f:
        cfg = json.load(f)
    raw = read_safetensors(os.path.join(FIXTURE, "model.safetensors"))
    quant = {k: (rtn_int4_g32(v) if k.endswith("_proj.weight") else v) for k, v in raw.items()}
    base, comp = Llama(raw, cfg), Llama(quant, cfg)
    sp = spm.SentencePieceProcessor(model_file=os.path.join(FIXTURE, "tokenizer.model"))
    with open(os.path.join(FIXTURE, "eval.txt"), encoding="utf-8") as f:
        tokens = sp.encode(f.read())
    bos = cfg["bos_token_id"]
    chunks = (len(tokens) + CTX - 1) // CTX
    per_chunk = []
    for c in range(chunks):
        target = tokens[c * CTX:(c + 1) * CTX]
        ids = [bos] + target[:-1]
        lb, lc = log_softmax(base.logits(ids)), log_softmax(comp.logits(ids))
        pb, pc = np.exp(lb), np.exp(lc)
        tgt = np.array(target)
        per_chunk.append({
            "tokens": len(target),
            "nll_base": float(-lb[np.arange(len(target)), tgt].sum()),
            "nll_compressed": float(-lc[np.arange(len(target)), tgt].sum()),
            "kl_bc": float((pb * (lb - lc)).sum()),
            "kl_cb": float((pc * (lc - lb)).sum()),
            "agree": int((lb.argmax(axis=-1) == lc.argmax(axis=-1)).sum()),
        })

    def summary(rows):
        n = sum(r["tokens"] for r in rows)
        return {
            "chunks": len(rows),
            "tokens": n,
            "perplexity_base": float(np.exp(sum(r["nll_base"] for r in rows) / n)),
            "perplexity_compressed": float(np.exp(sum(r["nll_compressed"] for r in rows) / n)),
            "kl_base_compressed": sum(r["kl_bc"] for r in rows) / n,
            "kl_compressed_base": sum(r["kl_cb"] for r in rows) / n,
            "agreement": sum(r["agree"] for r in rows) / n,
            "agree_tokens": sum(r["agree"] for r in rows),
        }

    out = {
        "made_by": "tests/data/reference/tiny_llama_kl.py, NumPy %s float64 forward pass, SentencePiece %s"
                   % (np.__version__, spm.__version__),
        "protocol": "chunks of 128 token ids of eval.txt (no BOS in the encoding), each run as [BOS] + chunk, "
                    "every chunk id scored; means per scored token, natural log",
        "compression": "INT4 RTN group 32 symmetric FP16 scales on every *_proj.weight",
        "eval_token_id_sum": int(sum(tokens)),
        "all": summary(per_chunk),
        "chunks_12": summary(per_chunk[:12]),
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
