#!/usr/bin/env python3
"""Writes a random-weight Llama checkpoint as a Hugging Face snapshot (numpy only), optionally with a
numpy reference forward pass (golden logits and greedy tokens) and a llama2.c .bin for the benchmark peer.

Usage: llm_make_model.py OUT_DIR [--shape tiny|260K|15M|110M] [--dtype f32|bf16|f16] [--round-bf16]
       [--shards N] [--tie] [--gqa] [--rope-theta T] [--new-config] [--reference] [--llama2c PATH]
       [--f64-tensor NAME] [--seed S]
"""
import argparse
import json
import os
import struct

import numpy as np

SHAPES = {
    # dim, hidden, layers, heads, kv_heads, vocab, max_pos
    "tiny": (64, 160, 2, 8, 2, 320, 256),
    "260K": (64, 172, 5, 8, 4, 512, 512),
    "15M": (288, 768, 6, 6, 6, 32000, 256),
    "110M": (768, 2048, 12, 12, 12, 32000, 1024),
}


def to_bf16_bits(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_round(a):
    return (to_bf16_bits(a).astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors):
    """tensors: name -> (dtype string, numpy array of raw storage)."""
    header = {}
    offset = 0
    blobs = []
    for name, (dtype, arr) in tensors.items():
        raw = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def tokenizer_json(vocab_size):
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for p in ["▁"] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["▁t", "he", "▁the", "▁a", "in"]:
        vocab[p] = len(vocab)
    while len(vocab) < vocab_size:
        vocab[f"<extra_{len(vocab)}>"] = len(vocab)
    return {
        "version": "1.0",
        "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "}, "content": "▁"}]},
        "pre_tokenizer": None,
        "post_processor": {"type": "TemplateProcessing",
                           "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                           "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": "▁"}, "content": " "}, {"type": "ByteFallback"},
            {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True,
                  "vocab": vocab, "merges": ["▁ t", "h e", "▁t he", "▁ a", "i n"]},
    }


def make_weights(args):
    dim, hidden, layers, heads, kv, vocab, max_pos = SHAPES[args.shape]
    if not args.gqa:
        kv = heads if args.shape == "tiny" else kv
    hd = dim // heads
    rng = np.random.default_rng(args.seed)

    def mat(r, c):
        return (rng.standard_normal((r, c)) / np.sqrt(c)).astype(np.float32)

    w = {"model.embed_tokens.weight": (rng.standard_normal((vocab, dim)) * 0.5).astype(np.float32)}
    for l in range(layers):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(dim)).astype(np.float32)
        w[p + "self_attn.q_proj.weight"] = mat(heads * hd, dim)
        w[p + "self_attn.k_proj.weight"] = mat(kv * hd, dim)
        w[p + "self_attn.v_proj.weight"] = mat(kv * hd, dim)
        w[p + "self_attn.o_proj.weight"] = mat(dim, heads * hd)
        w[p + "post_attention_layernorm.weight"] = (1 + 0.1 * rng.standard_normal(dim)).astype(np.float32)
        w[p + "mlp.gate_proj.weight"] = mat(hidden, dim)
        w[p + "mlp.up_proj.weight"] = mat(hidden, dim)
        w[p + "mlp.down_proj.weight"] = mat(dim, hidden)
    w["model.norm.weight"] = (1 + 0.1 * rng.standard_normal(dim)).astype(np.float32)
    if not args.tie:
        w["lm_head.weight"] = mat(vocab, dim)
    if args.round_bf16 or args.dtype == "bf16":
        w = {k: bf16_round(v) for k, v in w.items()}
    if args.dtype == "f16":
        w = {k: v.astype(np.float16).astype(np.float32) for k, v in w.items()}
    cfg = dict(dim=dim, hidden=hidden, layers=layers, heads=heads, kv=kv, vocab=vocab, max_pos=max_pos, hd=hd)
    return w, cfg


def reference(w, c, theta, eps, tie, prompt, steps):
    """Hugging Face LlamaForCausalLM forward pass in float64 (rotate_half RoPE, GQA)."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    lm = W["model.embed_tokens.weight"] if tie else W["lm_head.weight"]
    hd, heads, kv = c["hd"], c["heads"], c["kv"]
    inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))

    def rms(x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g

    def rope(x, pos):  # x: [T, H, hd]
        ang = pos[:, None] * inv[None, :]
        cos = np.concatenate([np.cos(ang)] * 2, -1)[:, None, :]
        sin = np.concatenate([np.sin(ang)] * 2, -1)[:, None, :]
        rot = np.concatenate([-x[..., hd // 2:], x[..., : hd // 2]], -1)
        return x * cos + rot * sin

    def forward(tokens):
        T = len(tokens)
        pos = np.arange(T, dtype=np.float64)
        x = W["model.embed_tokens.weight"][tokens]
        for l in range(c["layers"]):
            p = f"model.layers.{l}."
            h = rms(x, W[p + "input_layernorm.weight"])
            q = rope((h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, heads, hd), pos)
            k = rope((h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, kv, hd), pos)
            v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, kv, hd)
            k = np.repeat(k, heads // kv, axis=1)
            v = np.repeat(v, heads // kv, axis=1)
            s = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd)
            s = s + np.triu(np.full((T, T), -np.inf), 1)[None]
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            o = np.einsum("hts,shd->thd", s, v).reshape(T, heads * hd)
            x = x + o @ W[p + "self_attn.o_proj.weight"].T
            h = rms(x, W[p + "post_attention_layernorm.weight"])
            g = h @ W[p + "mlp.gate_proj.weight"].T
            x = x + ((g / (1 + np.exp(-g))) * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
        return rms(x, W["model.norm.weight"]) @ lm.T

    logits = forward(prompt)[-1]
    tokens = list(prompt)
    out = []
    for _ in range(steps):
        nxt = int(np.argmax(forward(tokens)[-1]))
        out.append(nxt)
        tokens.append(nxt)
    return logits, out


def write_llama2c(path, w, c, tie):
    """llama2.c v0 checkpoint (f32). RoPE layout is irrelevant for speed runs on random weights."""
    L = c["layers"]
    vocab = c["vocab"] if tie else -c["vocab"]
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", c["dim"], c["hidden"], L, c["heads"], c["kv"], vocab, c["max_pos"]))
        def put(a):
            f.write(np.ascontiguousarray(a, dtype=np.float32).tobytes())
        put(w["model.embed_tokens.weight"])
        names = ["input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                 "post_attention_layernorm", "mlp.gate_proj", "mlp.down_proj", "mlp.up_proj"]
        for n in names:
            for l in range(L):
                put(w[f"model.layers.{l}.{n}.weight"])
        put(w["model.norm.weight"])
        put(np.zeros(c["max_pos"] * c["hd"], dtype=np.float32))  # unused freq_cis real+imag
        if not tie:
            put(w["lm_head.weight"])
    # A placeholder tokenizer.bin: "t<id>" pieces, ids 0-2 as in Llama.
    with open(os.path.join(os.path.dirname(path), "tokenizer.bin"), "wb") as f:
        f.write(struct.pack("<I", 16))
        for i in range(c["vocab"]):
            piece = {0: b"<unk>", 1: b"\n<s>\n", 2: b"\n</s>\n"}.get(i, b" t%d" % i)
            f.write(struct.pack("<fI", 0.0, len(piece)))
            f.write(piece)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", default="tiny", choices=list(SHAPES))
    ap.add_argument("--dtype", default="f32", choices=["f32", "bf16", "f16"])
    ap.add_argument("--round-bf16", action="store_true", help="round weights to bf16 values but store f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tie", action="store_true")
    ap.add_argument("--gqa", action="store_true")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--new-config", action="store_true", help="transformers 5 config layout")
    ap.add_argument("--reference", action="store_true")
    ap.add_argument("--llama2c", default=None)
    ap.add_argument("--f64-tensor", default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    w, c = make_weights(args)
    eps = 1e-5
    dtype_name = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[args.dtype]
    config = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": c["dim"],
        "intermediate_size": c["hidden"], "num_hidden_layers": c["layers"], "num_attention_heads": c["heads"],
        "num_key_value_heads": c["kv"], "vocab_size": c["vocab"], "max_position_embeddings": c["max_pos"],
        "rms_norm_eps": eps, "hidden_act": "silu", "tie_word_embeddings": args.tie, "bos_token_id": 1,
        "eos_token_id": 2,
    }
    if args.new_config:
        config.update({"rope_parameters": {"rope_theta": args.rope_theta, "rope_type": "default"},
                       "dtype": dtype_name, "head_dim": c["hd"]})
    else:
        config.update({"rope_theta": args.rope_theta, "torch_dtype": dtype_name})
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2, "do_sample": False, "max_new_tokens": 32}, f)
    with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(c["vocab"]), f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}, f)

    def storage(name, a):
        if name == args.f64_tensor:
            return ("F64", a.astype(np.float64))
        if args.dtype == "bf16":
            return ("BF16", to_bf16_bits(a))
        if args.dtype == "f16":
            return ("F16", a.astype(np.float16))
        return ("F32", a)

    names = list(w)
    if args.shards <= 1:
        write_safetensors(os.path.join(args.out, "model.safetensors"), {n: storage(n, w[n]) for n in names})
    else:
        weight_map = {}
        per = (len(names) + args.shards - 1) // args.shards
        for s in range(args.shards):
            fname = f"model-{s + 1:05d}-of-{args.shards:05d}.safetensors"
            part = names[s * per:(s + 1) * per]
            write_safetensors(os.path.join(args.out, fname), {n: storage(n, w[n]) for n in part})
            weight_map.update({n: fname for n in part})
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)

    if args.reference:
        prompt = [1, 290, 300, 287, 275, 262, 279]
        logits, greedy = reference(w, c, args.rope_theta, eps, args.tie, prompt, 8)
        with open(os.path.join(args.out, "reference.json"), "w") as f:
            json.dump({"prompt": prompt, "last_logits": [float(x) for x in logits], "greedy": greedy}, f)
    if args.llama2c:
        write_llama2c(args.llama2c, w, c, args.tie)


if __name__ == "__main__":
    main()
