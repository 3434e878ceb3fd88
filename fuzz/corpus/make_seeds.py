#!/usr/bin/env python3
"""Writes the generated fuzz seeds (run from anywhere; rewrites them in place), and the
regression inputs of the faults fixed by hand (fuzz/regressions/<name>/<fault>.*), each a seed
with one fault put in.

Independent of Bonsai's code: GGUF, safetensors and SentencePiece ModelProto bytes are packed
here from the formats' specifications. Every seed is a valid file (or set of files) that the
readers accept, small enough for fast fuzzing: a 1-block language model of hidden size 8 with a
12-token vocabulary, one GGUF tensor per ggml block type, a tiny SentencePiece vocabulary.
Multi-file inputs join the files with PART (fuzz_input.h's kPartSeparator).
"""
import json
import os
import random
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PART = b"\n#PART#\n"
rng = random.Random(1234)

# Language-model dimensions of the seeds.
H, FF, HEADS, KV, HD, VOCAB = 8, 16, 2, 1, 4, 12


def out(name, data):
    path = os.path.join(HERE, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def floats(n, scale=0.5):
    return struct.pack("<%df" % n, *[rng.uniform(-scale, scale) for _ in range(n)])


# --- GGUF ----------------------------------------------------------------------------------
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def gval(t, v):
    fmt = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "B",
           U64: "Q", I64: "q", F64: "d"}
    if t == STRING:
        return gstr(v)
    if t == ARRAY:
        et, items = v
        body = b"".join(gval(et, x) for x in items)
        return struct.pack("<IQ", et, len(items)) + body
    return struct.pack("<" + fmt[t], v)


def gguf(kvs, tensors, align=32):
    """kvs: [(key, type, value)]; tensors: [(name, ne (innermost first), ggml type, bytes)]."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        head += gstr(k) + struct.pack("<I", t) + gval(t, v)
    offsets, off = [], 0
    for _, _, _, data in tensors:
        offsets.append(off)
        off += (len(data) + align - 1) // align * align
    for (name, ne, gt, _), o in zip(tensors, offsets):
        head += gstr(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        head += struct.pack("<IQ", gt, o)
    head += b"\0" * ((-len(head)) % align)
    body = b""
    for data in tensors:
        body += data[3] + b"\0" * ((-len(data[3])) % align)
    return head + body


def f16(x):
    return struct.pack("<e", x)


# One tensor per block type: (ggml id, elements per block, bytes per block, block maker).
def qblock(nbytes, scales):
    """A block whose leading f16 scales are sane and whose quants are random bytes."""
    b = b"".join(f16(s) for s in scales)
    return b + bytes(rng.randrange(256) for _ in range(nbytes - len(b)))


BLOCK_TYPES = [
    ("q4_0", 2, 32, lambda: qblock(18, [0.1])),
    ("q4_1", 3, 32, lambda: qblock(20, [0.1, -0.2])),
    ("q5_0", 6, 32, lambda: qblock(22, [0.1])),
    ("q5_1", 7, 32, lambda: qblock(24, [0.1, -0.2])),
    ("q8_0", 8, 32, lambda: qblock(34, [0.01])),
    ("q2_k", 10, 256, lambda: bytes(rng.randrange(256) for _ in range(80)) + f16(0.1) + f16(0.05)),
    ("q3_k", 11, 256, lambda: bytes(rng.randrange(256) for _ in range(108)) + f16(0.1)),
    ("q4_k", 12, 256, lambda: qblock(144, [0.1, 0.05])),
    ("q5_k", 13, 256, lambda: qblock(176, [0.1, 0.05])),
    ("q6_k", 14, 256, lambda: bytes(rng.randrange(256) for _ in range(208)) + f16(0.1)),
]


def gguf_block_types():
    tensors = [("f32", [4, 2], 0, floats(8)), ("f16", [4], 1, b"".join(f16(x) for x in (1, -2, 0.5, 3))),
               ("bf16", [2], 30, b"\x80\x3f\x00\xc0"), ("i8", [3], 24, b"\x01\xff\x7f"),
               ("i16", [2], 25, struct.pack("<hh", -3, 300)), ("i32", [2], 26, struct.pack("<ii", 7, -9)),
               ("i64", [1], 27, struct.pack("<q", 5)), ("f64", [2], 28, struct.pack("<dd", 0.25, -1))]
    for name, gid, elems, make in BLOCK_TYPES:
        tensors.append((name, [elems], gid, make()))
    return gguf([("general.architecture", STRING, "test")], tensors)


def gguf_metadata_types():
    kvs = [("general.alignment", U32, 64), ("u8", U8, 200), ("i8", I8, -5), ("u16", U16, 60000),
           ("i16", I16, -300), ("u32", U32, 1 << 31), ("i32", I32, -7), ("f32", F32, 1.5),
           ("bool", BOOL, 1), ("string", STRING, "line\nbreak\ttab"), ("u64", U64, 1 << 63),
           ("i64", I64, -(1 << 40)), ("f64", F64, 2.5), ("ints", ARRAY, (I32, [1, -2, 3])),
           ("strings", ARRAY, (STRING, ["a", "bc"])), ("nested", ARRAY, (ARRAY, [(U8, [1, 2]), (F32, [0.5])]))]
    return gguf(kvs, [("w", [8], 0, floats(8))], align=64)


# The tokenizer vocabulary of the language-model seeds (SentencePiece style for "llama").
SPM_TOKENS = ["<unk>", "<s>", "</s>", "\u2581", "H", "e", "l", "o", "\u2581H", "ll", "<0x0A>", "\u2581w"]
SPM_TYPES = [2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 6, 1]
BPE_TOKENS = ["H", "e", "l", "o", "\u0120", "w", "r", "d", "He", "ll", "<s>", "</s>"]


def llm_tensors(gguf_names):
    """(name, shape outermost first, float bytes) of a 1-block Llama model."""
    qkv = [("q", HEADS * HD, H), ("k", KV * HD, H), ("v", KV * HD, H), ("o", H, HEADS * HD)]
    mlp = [("gate", FF, H), ("up", FF, H), ("down", H, FF)]
    t = []
    if gguf_names:
        t.append(("token_embd.weight", [VOCAB, H]))
        t.append(("output_norm.weight", [H]))
        t += [("blk.0.attn_norm.weight", [H]), ("blk.0.ffn_norm.weight", [H])]
        names = {"q": "attn_q", "k": "attn_k", "v": "attn_v", "o": "attn_output",
                 "gate": "ffn_gate", "up": "ffn_up", "down": "ffn_down"}
        t += [("blk.0.%s.weight" % names[n], [r, c]) for n, r, c in qkv + mlp]
    else:
        t.append(("model.embed_tokens.weight", [VOCAB, H]))
        t.append(("model.norm.weight", [H]))
        t += [("model.layers.0.input_layernorm.weight", [H]),
              ("model.layers.0.post_attention_layernorm.weight", [H])]
        t += [("model.layers.0.self_attn.%s_proj.weight" % n, [r, c]) for n, r, c in qkv]
        t += [("model.layers.0.mlp.%s_proj.weight" % n, [r, c]) for n, r, c in mlp]
    res = []
    for name, shape in t:
        n = 1
        for d in shape:
            n *= d
        res.append((name, shape, floats(n) if "norm" not in name else struct.pack("<%df" % n, *([1.0] * n))))
    return res


def gguf_llm(tokenizer):
    tensors = [(n, list(reversed(s)), 0, d) for n, s, d in llm_tensors(True)]
    return gguf(gguf_llm_kvs(tokenizer), tensors)


def gguf_llm_kvs(tokenizer):
    kvs = [("general.architecture", STRING, "llama"), ("llama.embedding_length", U32, H),
           ("llama.feed_forward_length", U32, FF), ("llama.block_count", U32, 1),
           ("llama.attention.head_count", U32, HEADS), ("llama.attention.head_count_kv", U32, KV),
           ("llama.context_length", U32, 64), ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
           ("llama.rope.freq_base", F32, 10000.0)]
    if tokenizer == "llama":
        kvs += [("tokenizer.ggml.model", STRING, "llama"), ("tokenizer.ggml.tokens", ARRAY, (STRING, SPM_TOKENS)),
                ("tokenizer.ggml.scores", ARRAY, (F32, [0, 0, 0, -1, -2, -3, -4, -5, -1.5, -2.5, 0, -3.5])),
                ("tokenizer.ggml.token_type", ARRAY, (I32, SPM_TYPES)),
                ("tokenizer.ggml.bos_token_id", U32, 1), ("tokenizer.ggml.eos_token_id", U32, 2),
                ("tokenizer.ggml.unknown_token_id", U32, 0), ("tokenizer.ggml.add_space_prefix", BOOL, 1)]
    else:
        kvs += [("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "llama-bpe"),
                ("tokenizer.ggml.tokens", ARRAY, (STRING, BPE_TOKENS)),
                ("tokenizer.ggml.merges", ARRAY, (STRING, ["H e", "l l"])),
                ("tokenizer.ggml.token_type", ARRAY, (I32, [1] * 10 + [3, 3])),
                ("tokenizer.ggml.bos_token_id", U32, 10), ("tokenizer.ggml.eos_token_id", U32, 11)]
    return kvs


# --- safetensors ---------------------------------------------------------------------------
def safetensors(tensors, metadata=None):
    header, off, body = {}, 0, b""
    for name, shape, data in tensors:
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(data)]}
        off += len(data)
        body += data
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + body


HF_CONFIG = {"model_type": "llama", "hidden_size": H, "intermediate_size": FF, "num_hidden_layers": 1,
             "num_attention_heads": HEADS, "num_key_value_heads": KV, "vocab_size": VOCAB,
             "max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
             "bos_token_id": 10, "eos_token_id": 11, "tie_word_embeddings": True}


def tokenizer_json():
    return json.dumps({
        "version": "1.0",
        "added_tokens": [{"id": 10, "content": "<s>", "special": True}, {"id": 11, "content": "</s>", "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                    {"Sequence": {"id": "A", "type_id": 0}}],
                           "special_tokens": {"<s>": {"id": "<s>", "ids": [10], "tokens": ["<s>"]}}},
        "model": {"type": "BPE", "vocab": {t: i for i, t in enumerate(BPE_TOKENS[:10])},
                  "merges": ["H e", ["l", "l"]], "unk_token": None},
    }, indent=1).encode()


# --- SentencePiece ModelProto ---------------------------------------------------------------
def varint(n):
    b = b""
    while True:
        c = n & 0x7F
        n >>= 7
        if n:
            b += bytes([c | 0x80])
        else:
            return b + bytes([c])


def field(num, wire, payload):
    key = varint(num << 3 | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def spm_model(pieces, byte_fallback, dummy_prefix=True):
    b = b""
    for piece, score, ptype in pieces:
        p = field(1, 2, piece.encode()) + field(2, 5, struct.pack("<f", score)) + field(3, 0, varint(ptype))
        b += field(1, 2, p)
    trainer = field(3, 0, varint(2)) + field(35, 0, varint(int(byte_fallback)))
    trainer += field(40, 0, varint(0)) + field(41, 0, varint(1)) + field(42, 0, varint(2))
    trainer += field(43, 0, varint((1 << 64) - 1))  # pad_id -1, as the trainer writes it
    b += field(2, 2, trainer)
    norm = field(1, 2, b"identity") + field(3, 0, varint(int(dummy_prefix))) + field(4, 0, varint(0))
    norm += field(5, 0, varint(1))
    return b + field(3, 2, norm)


def main():
    for d in ["gguf", "gguf_llm", "llm_checkpoint", "tokenizer_json", "tokenizer_spm", "recipe",
              "provenance", "safetensors_index"]:
        shutil.rmtree(os.path.join(HERE, d), ignore_errors=True)
    out("gguf/block_types.gguf", gguf_block_types())
    out("gguf/metadata_types.gguf", gguf_metadata_types())
    out("gguf_llm/llama_spm.gguf", gguf_llm("llama"))
    out("gguf_llm/llama_bpe.gguf", gguf_llm("gpt2"))

    hf = safetensors(llm_tensors(False))
    cfg = json.dumps(HF_CONFIG, indent=1).encode()
    out("llm_checkpoint/llama_bpe.bin", cfg + PART + hf + PART + tokenizer_json())
    grouped = dict(HF_CONFIG, max_position_embeddings=None, head_dim=HD,
                   rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                 "high_freq_factor": 4.0, "original_max_position_embeddings": 32})
    out("llm_checkpoint/llama3_rope.bin", json.dumps(grouped).encode() + PART + hf + PART + tokenizer_json())

    out("tokenizer_json/tiny_bpe.json", tokenizer_json())
    for name in ["bpe_gpt2.json", "bpe_llama3.json"]:
        shutil.copy(os.path.join(ROOT, "tests/data/tokenizers", name), os.path.join(HERE, "tokenizer_json", name))

    scores = [0, 0, 0, -1, -2, -3, -4, -5, -1.5, -2.5, 0, -3.5]
    out("tokenizer_spm/tiny.model", spm_model(list(zip(SPM_TOKENS, scores, SPM_TYPES)), False))
    bytes_vocab = [("<unk>", 0, 2), ("<s>", 0, 3), ("</s>", 0, 3)]
    bytes_vocab += [("<0x%02X>" % b, 0, 6) for b in range(256)]
    bytes_vocab += [("\u2581", -1, 1), ("\u2581a", -2, 1), ("ab", -3, 1), ("<user>", 0, 4)]
    out("tokenizer_spm/byte_fallback.model", spm_model(bytes_vocab, True, dummy_prefix=False))

    out("recipe/rules.json", json.dumps({
        "bonsai_recipe": 1, "description": "seed",
        "defaults": {"precision": "int8", "granularity": "channel", "symmetric": True},
        "rules": [{"match": "q_proj|k_proj", "precision": "int4", "granularity": "group", "group_size": 32,
                   "method": "gptq", "damping": 0.01, "act_order": True, "calibration_samples": 16},
                  {"match": "^fc[0-9]+$", "sparsity": 0.5, "sparsity_pattern": "2:4", "sparsity_scope": "global"},
                  {"match": "down", "rank": 4, "channel_norm": "l2", "clip_search": True, "precision": "q4_k"},
                  {"match": "(ffn|mlp)\\.", "energy": 0.9, "sparsity_pattern": "channels", "method": "awq"}],
        "provenance": {"tool": "bonsai 0.1.0", "created": "2026-01-01T00:00:00Z", "files": []},
    }, indent=1).encode())
    out("recipe/minimal.json", b'{"bonsai_recipe": 1}')

    prov = {"tool": "bonsai 0.1.0", "created": "2026-01-01T00:00:00Z",
            "files": [{"path": "/models/m/model.safetensors", "role": "weights", "bytes": 3482384,
                       "sha256": "ab" * 32},
                      {"path": "/models/m/config.json", "role": "config", "bytes": 446, "sha256": "cd" * 32}],
            "calibration": [{"path": "/data/calib.txt", "use": "gptq", "bytes": 200000, "sha256": "ef" * 32,
                             "samples": 8, "seed": 42}],
            "options": ["accept mapping", "format gguf"]}
    out("provenance/full.json", json.dumps(prov).encode())
    out("provenance/minimal.json", b'{"tool":"t","created":"c","files":[]}')

    a = [t for t in llm_tensors(False) if "layers" not in t[0]]
    b = [t for t in llm_tensors(False) if "layers" in t[0]]
    index = {"metadata": {"total_size": sum(len(t[2]) for t in a + b)},
             "weight_map": dict([(t[0], "a.safetensors") for t in a] + [(t[0], "b.safetensors") for t in b])}
    out("safetensors_index/two_shards.bin",
        json.dumps(index, indent=1).encode() + PART + safetensors(a) + PART + safetensors(b))


def regression(name, data):
    path = os.path.join(os.path.dirname(HERE), "regressions", name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def regressions():
    hf = safetensors(llm_tensors(False))
    tok = tokenizer_json()

    def checkpoint(**changes):
        return json.dumps(dict(HF_CONFIG, **changes)).encode() + PART + hf + PART + tok

    # config.json: numbers that size loops and allocations, divide, or have the wrong type.
    regression("llm_checkpoint/layers_1e6.bin", checkpoint(num_hidden_layers=1000000))
    regression("llm_checkpoint/vocab_2e40.bin", checkpoint(vocab_size=1 << 40))
    regression("llm_checkpoint/kv_heads_0.bin", checkpoint(num_key_value_heads=0))
    regression("llm_checkpoint/head_dim_0.bin", checkpoint(num_attention_heads=16))
    regression("llm_checkpoint/heads_overflow.bin", checkpoint(num_attention_heads=1 << 62, head_dim=1 << 62))
    regression("llm_checkpoint/max_positions_string.bin", checkpoint(max_position_embeddings="64"))
    regression("llm_checkpoint/model_type_number.bin", checkpoint(model_type=5))
    regression("llm_checkpoint/rope_factor_string.bin", checkpoint(rope_scaling={"rope_type": "llama3", "factor": "8"}))
    regression("llm_checkpoint/eps_negative.bin", checkpoint(rms_norm_eps=-1))

    # GGUF language model and tokenizer metadata.
    def gguf_with(tokenizer, edits):
        """gguf_llm's seed with metadata values replaced: {key: (type, value)}."""
        data = gguf_llm_kvs(tokenizer)
        for k, (t, v) in edits.items():
            data = [(kk, tt, vv) for kk, tt, vv in data if kk != k] + ([(k, t, v)] if t is not None else [])
        tensors = [(n, list(reversed(sh)), 0, d) for n, sh, d in llm_tensors(True)]
        return gguf(data, tensors)

    regression("gguf_llm/token_type_strings.gguf",
               gguf_with("llama", {"tokenizer.ggml.token_type": (ARRAY, (STRING, [str(t) for t in SPM_TYPES]))}))
    regression("gguf_llm/scores_strings.gguf",
               gguf_with("llama", {"tokenizer.ggml.scores": (ARRAY, (STRING, ["0"] * len(SPM_TOKENS)))}))
    regression("gguf_llm/bos_beyond_vocab.gguf", gguf_with("llama", {"tokenizer.ggml.bos_token_id": (U32, 70000)}))
    regression("gguf_llm/kv_heads_0.gguf", gguf_with("llama", {"llama.attention.head_count_kv": (U32, 0)}))
    regression("gguf_llm/kv_heads_string.gguf", gguf_with("llama", {"llama.attention.head_count_kv": (STRING, "1")}))
    regression("gguf_llm/blocks_1e6.gguf", gguf_with("llama", {"llama.block_count": (U32, 1000000)}))
    regression("gguf_llm/merges_ints.gguf", gguf_with("gpt2", {"tokenizer.ggml.merges": (ARRAY, (I32, [1, 2]))}))
    regression("gguf_llm/byte_piece_not_hex.gguf",
               gguf_with("llama", {"tokenizer.ggml.tokens": (ARRAY, (STRING, SPM_TOKENS[:10] + ["<0xZZ>", "<0x-1>"])),
                                   "tokenizer.ggml.token_type": (ARRAY, (I32, SPM_TYPES[:10] + [6, 6]))}))

    # tokenizer.json: ids that sized tables by themselves, fields of the wrong type.
    t = json.loads(tok)
    t["added_tokens"][0]["id"] = 2147483647
    regression("tokenizer_json/added_id_int32_max.json", json.dumps(t).encode())
    t = json.loads(tok)
    t["model"]["vocab"]["He"] = 16777216
    regression("tokenizer_json/vocab_id_2e24.json", json.dumps(t).encode())
    t = json.loads(tok)
    t["post_processor"]["special_tokens"]["<s>"]["ids"] = [4000000000]
    regression("tokenizer_json/template_id_beyond.json", json.dumps(t).encode())
    t = json.loads(tok)
    t["added_tokens"][1]["content"] = 5
    regression("tokenizer_json/content_number.json", json.dumps(t).encode())

    # tokenizer.model: byte pieces whose text is no <0xHH> (stoi threw; <0x-1> wrote before the table).
    regression("tokenizer_spm/byte_piece_not_hex.model",
               spm_model([("<unk>", 0, 2), ("<0xZZ>", 0, 6), ("<0x-1>", 0, 6), ("<0x41>", 0, 6)], True))

    # Provenance and recipes.
    regression("provenance/bytes_string.json",
               b'{"tool":"t","created":"c","files":[{"path":"p","role":"model","bytes":"1","sha256":"ab"}]}')
    regression("provenance/files_object.json", b'{"tool":"t","created":"c","files":{}}')
    regression("recipe/nested_star.json", b'{"bonsai_recipe":1,"rules":[{"match":"(.*)*x"}]}')
    regression("recipe/deep_groups.json",
               b'{"bonsai_recipe":1,"rules":[{"match":"' + b"(" * 400 + b"a" + b")" * 400 + b'"}]}')


if __name__ == "__main__":
    main()
    regressions()
