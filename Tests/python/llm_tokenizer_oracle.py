#!/usr/bin/env python3
"""Builds tokenizer.json files with the Hugging Face `tokenizers` library and records its encodings.

Usage: llm_tokenizer_oracle.py OUT_DIR
Writes OUT_DIR/<variant>/tokenizer.json for each variant and OUT_DIR/cases.json:
  {"variants": [...], "cases": [{"text": ..., "<variant>": {"ids": [...], "decoded": "..."}}]}
Exit code 3 when the `tokenizers` package is missing (TokenizerTests checks for it first and skips).
"""
import json
import os
import random
import sys

try:
    from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors, Regex
    from tokenizers.models import BPE
    from tokenizers.trainers import BpeTrainer
except ImportError:
    print("skipped: the python package `tokenizers` is not installed", file=sys.stderr)
    sys.exit(3)

WORDS = ("the a little girl named Lily loved to play outside in park One day she saw big red ball "
         "wanted with it but was too high mom said Hello world this is test tokenizer encoding "
         "don't can't we're they've I'm you'll he'd numbers 2024 3.14 1,000,000 email alice@example.com "
         "café naïve résumé über straße 日本語 中文 한국어 emoji 🦙 😀 👍🏽 [INST] [/INST] <<SYS>> <</SYS>>").split()

BYTES = [f"<0x{b:02X}>" for b in range(256)]
SPECIALS = ["<unk>", "<s>", "</s>"]
CHAT_SPECIALS = ["<|im_start|>", "<|im_end|>"]


def corpus(rng, n=3000):
    lines = []
    for _ in range(n):
        k = rng.randint(3, 14)
        line = " ".join(rng.choice(WORDS) for _ in range(k))
        if rng.random() < 0.2:
            line += "\n" + " ".join(rng.choice(WORDS) for _ in range(3))
        lines.append(line)
    return lines


def sentencepiece_style(lines):
    """A SentencePiece-like BPE with byte fallback: trained on Metaspace words, ids 0-2 special, 3-258 bytes."""
    tok = Tokenizer(BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    trainer = BpeTrainer(vocab_size=700, special_tokens=SPECIALS + BYTES, limit_alphabet=70, show_progress=False)
    tok.train_from_iterator(lines, trainer)
    return tok


def llama_decoder():
    return decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)])


def bos_post():
    return processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])


def build(out):
    rng = random.Random(1234)
    lines = corpus(rng)
    variants = {}

    # 1. Llama 2 "legacy" layout: Prepend+Replace normalizer, no pre-tokenizer; merges as "a b" strings.
    legacy = sentencepiece_style(lines)
    legacy.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    legacy.pre_tokenizer = None
    legacy.decoder = llama_decoder()
    legacy.post_processor = bos_post()
    data = json.loads(legacy.to_str())
    data["model"]["merges"] = [m if isinstance(m, str) else f"{m[0]} {m[1]}" for m in data["model"]["merges"]]
    legacy = Tokenizer.from_str(json.dumps(data))
    variants["sp_legacy"] = legacy

    # 2. transformers 5 layout: Metaspace(prepend_scheme first, split false), merges as pairs, chat specials.
    meta = sentencepiece_style(lines)
    meta.normalizer = None
    meta.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    meta.decoder = llama_decoder()
    meta.post_processor = bos_post()
    meta.add_special_tokens(CHAT_SPECIALS)
    variants["sp_metaspace"] = meta

    # 3. Byte-level BPE like SmolLM2: Digits(individual) + ByteLevel(regex), ByteLevel decoder.
    bl = Tokenizer(BPE())
    bl.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Digits(individual_digits=True), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    bl.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=900, special_tokens=["<|endoftext|>"] + CHAT_SPECIALS,
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bl.train_from_iterator(lines, trainer)
    bl.post_processor = processors.ByteLevel(trim_offsets=False)
    variants["byte_level"] = bl

    # 4. Byte-level with an explicit Split regex (Llama 3 style) and ByteLevel(use_regex=False), NFC normalizer.
    pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    rx = Tokenizer(BPE(ignore_merges=True))
    rx.normalizer = normalizers.NFC()
    rx.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
         pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    rx.decoder = decoders.ByteLevel()
    trainer = BpeTrainer(vocab_size=800, special_tokens=["<|begin_of_text|>", "<|eot_id|>"],
                         initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    rx.train_from_iterator(lines, trainer)
    rx.post_processor = processors.TemplateProcessing(
        single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", 0)])
    variants["byte_level_regex"] = rx

    for name, tok in variants.items():
        os.makedirs(os.path.join(out, name), exist_ok=True)
        tok.save(os.path.join(out, name, "tokenizer.json"))

    cases = []
    for text in test_strings(random.Random(99)):
        entry = {"text": text}
        for name, tok in variants.items():
            ids = tok.encode(text).ids
            entry[name] = {"ids": ids, "decoded": tok.decode(ids, skip_special_tokens=True)}
        cases.append(entry)
    with open(os.path.join(out, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"variants": list(variants), "cases": cases}, f, ensure_ascii=False)


def test_strings(rng):
    fixed = [
        "", " ", "  ", "\n", "Hello world", " leading space", "trailing space ", "  two  spaces  ",
        "\n\nnew\nlines\n", "tab\tsep\t", "\r\nwindows\r\n", "Once upon a time", "🦙", "😀👍🏽", "日本語のテキスト",
        "café naïve", "e\u0301 combining", "numbers 1234567890 and 3.14159", "don't stop", "I'M LOUD 'S 'T",
        "<s>[INST] <<SYS>>\nYou are helpful.\n<</SYS>>\n\nHi there [/INST]",
        "Hello! </s><s>[INST] again [/INST]", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n",
        "x<s>y</s>z", "<unk>", "a<|endoftext|>b", "<|begin_of_text|>text<|eot_id|>",
        "\u00a0nbsp\u2003em", "zero\u200bwidth", "mixed 中 english 한 🦙 42", "    indented code()",
        "!!!???...", "email: alice@example.com", "$100.00 & 50%", "\x00\x01control\x7f",
    ]
    pieces = WORDS + [" ", "  ", "   ", "\n", "\t", "0", "12", "345", "🦙", "é", "ß", "<s>", "</s>",
                      "<|im_start|>", "<|im_end|>", "[INST]", "\u0301", "'s", "'ll", "?!", "—", "…"]
    out = list(fixed)
    while len(out) < 300:
        k = rng.randint(1, 12)
        s = ""
        for _ in range(k):
            s += rng.choice(pieces)
            if rng.random() < 0.6:
                s += " "
        out.append(s)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    build(sys.argv[1])
