#!/usr/bin/python3
"""Seed tool: a small byte-level BPE tokenizer.json (+ tokenizer_config.json) of VOCAB entries,
trained here on a text so that its merges are real: the 256 byte symbols (GPT-2's byte-to-unicode
alphabet), VOCAB - 257 merges, and one special token <|endoftext|> as BOS. The pre-tokenizer is a
Split on GPT-2's regex followed by ByteLevel, the shape bpe_hf_json.h accepts.

  make_bpe_tokenizer.py TEXT VOCAB OUTDIR
"""
import collections
import json
import re
import sys


def byte_alphabet():
    # GPT-2's mapping: printable Latin-1 bytes stand for themselves, the rest take code points
    # from 256 up, so that every byte is one visible character.
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def main():
    text_path, vocab_size, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    alphabet = byte_alphabet()
    text = open(text_path, encoding="utf-8", errors="replace").read()[:20000]
    # Words as the Split step would cut them (a simplified GPT-2 pattern for training only).
    words = collections.Counter(re.findall(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+", text))
    symbols = {w: [alphabet[b] for b in w.encode("utf-8")] for w in words}
    vocab = {alphabet[b]: b for b in range(256)}
    merges = []
    while len(vocab) < vocab_size - 1:
        pairs = collections.Counter()
        for w, count in words.items():
            s = symbols[w]
            for a, b in zip(s, s[1:]):
                pairs[(a, b)] += count
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append(f"{a} {b}")
        vocab[a + b] = len(vocab)
        for w in words:
            s, i, merged = symbols[w], 0, []
            while i < len(s):
                if i + 1 < len(s) and s[i] == a and s[i + 1] == b:
                    merged.append(a + b)
                    i += 2
                else:
                    merged.append(s[i])
                    i += 1
            symbols[w] = merged
    special = "<|endoftext|>"
    vocab[special] = len(vocab)
    gpt2_split = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
    tokenizer = {
        "version": "1.0",
        "added_tokens": [{"id": vocab[special], "content": special, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": False, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": gpt2_split}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    with open(f"{out}/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    with open(f"{out}/tokenizer_config.json", "w", encoding="utf-8") as f:
        json.dump({"add_bos_token": True, "bos_token": special, "eos_token": special}, f)


if __name__ == "__main__":
    main()
