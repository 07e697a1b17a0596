#!/usr/bin/env python3
"""The byte-level BPE oracle: Hugging Face `tokenizers` against libvqround, token for token.

Trains real byte-level BPE tokenizers with `tokenizers` on the shared calibration text (c4, code,
multilingual, technical, wiki), configured as the tokenizer.json files of GPT-2 (ByteLevel with its
built-in regex), Llama 3 (Split with its regex, ignore_merges, <|begin_of_text|> as the template's
BOS) and Qwen2 (Split with its regex, NFC normalizer, ChatML special tokens; its texts also include
the NFD form of every calibration chunk that has one, which NFC must put back, and every character
with a canonical decomposition, composed and decomposed), plus a RoBERTa-like
variant (add_prefix_space, an lstrip <mask> token); and GPT-2's real 50257-piece vocabulary, read
from llama.cpp's ggml-vocab-gpt-2.gguf into `tokenizers`, which our side reads both as the saved
tokenizer.json and straight from the GGUF file. Each is saved as tokenizer.json and
tokenizer_config.json; the calibration files (cut into chunks of 64 lines) and a set of hand-written
edge cases are encoded by `tokenizers` (add_special_tokens=True) and by our bpe_encode driver, and
every id must match, and our decoded tokens must equal tokenizers' decode of the same ids (and,
without add_prefix_space, the text itself, in NFC for Qwen2, after the BOS's content). Speed: tokens per second of
both on the same texts in this run (ours on one thread; tokenizers single-threaded, one encode per
text, and its encode_batch with its own thread pool).

Run with the peers interpreter (scripts/peers.sh --tokenizers-only prints it):
  python bpe_oracle.py --driver build/tests/model/bpe_encode --data ../shared/data
Exit status 0 when everything matches, 1 otherwise.
"""
import argparse
import json
import os
import pathlib
import struct
import subprocess
import sys
import tempfile
import time
import unicodedata

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2 = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
FILES = ["c4", "code", "multilingual", "technical", "wiki"]
VOCAB = 16000

EDGE_CASES = [
    "", " ", "  ", "\n", "\t\n \r\n", "a", "Hello world", " Hello World!", "I'M DON'T we'LL you'Re it's",
    "12345678 1,234.5 3.14159 2024-12-07", "  leading and trailing  ", "tabs\t\tand\n\n\nnewlines\r\n\r\n",
    "emoji 🦙🦙 👩‍👩‍👧 ✔️", "Ünïcödé café naïve façade", "日本語のテキスト。中文文本，标点！", "Привет, мир! Бълг",
    "مرحبا بالعالم", "हिन्दी पाठ", "NEL\x85here\x85\x85", "ideographic\u3000space\u3000\u3000x", "nbsp\u00a0x\u2028y",
    "ſ'S 'ſ K\u212a", "a" * 3000, " " * 500 + "x", "def f(x):\n    return x**2  # square\n\n\tpass\n",
    "<|endoftext|>", "Hello<|endoftext|>world<|endoftext|>", "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant",
    "<|begin_of_text|>text<|eot_id|>", "<|endof", "x <mask> y<mask>z  <mask>", "\u0000after nul",
]
# Not NFC: the Qwen2 variant's NFC normalizer changes them (and, for it, the NFD form of every
# calibration chunk that has one).
NOT_NFC = ["e\u0301 composed later", "Amélie vs Ame\u0301lie", "\u212b angstrom", "a\u0301\u0323 a\u0323\u0301 e\u0301\u0301",
           "\u1100\u1161\u11a8 \uac00\u11a8 \u1100", "\u0958 \u2126 \u1e9b\u0323 \u0344"]


# U+11938 DIVES AKURU VOWEL SIGN O (Unicode 13.0) is the one character whose NFC differs between
# tokenizers 0.23.3 (older Unicode tables) and ours (Python 3.11's Unicode 14.0): left out.
NEWER_THAN_TOKENIZERS = {0x11938}


def decomposable_texts():
    """Every code point with a canonical decomposition (and every 7th Hangul syllable), as itself and
    decomposed, in texts of 64 characters: NFC of these exercises every table row."""
    cps = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF and unicodedata.decomposition(chr(cp))
           and not unicodedata.decomposition(chr(cp)).startswith("<") and cp not in NEWER_THAN_TOKENIZERS]
    cps += list(range(0xAC00, 0xD7A4, 7))
    texts = []
    for i in range(0, len(cps), 64):
        part = "".join(chr(cp) for cp in cps[i:i + 64])
        texts += [part, unicodedata.normalize("NFD", part)]
    return texts


def families():
    """Each variant: name, set-up before training (normalizer, pre-tokenizer), set-up after it
    (post-processor, added tokens: they need the trained ids), special tokens, tokenizer_config.json
    and ignore_merges."""
    def split_then_byte_level(pattern):
        return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(pattern), behavior="isolated"),
                                        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])

    def gpt2_pre(tok):
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)

    def gpt2_post(tok):
        tok.post_processor = processors.ByteLevel(trim_offsets=False)

    def llama3_pre(tok):
        tok.pre_tokenizer = split_then_byte_level(LLAMA3)

    def llama3_post(tok):
        bos = "<|begin_of_text|>"
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                          special_tokens=[(bos, tok.token_to_id(bos))])])

    def qwen2_pre(tok):
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = split_then_byte_level(QWEN2)

    def roberta_pre(tok):
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)

    def roberta_post(tok):
        tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True)])

    return [
        ("gpt2", gpt2_pre, gpt2_post, ["<|endoftext|>"], {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}, False),
        ("llama3", llama3_pre, llama3_post, ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"],
         {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"}, True),
        ("qwen2", qwen2_pre, gpt2_post, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
         {"bos_token": None, "eos_token": "<|endoftext|>", "add_bos_token": False}, False),
        ("roberta_like", roberta_pre, roberta_post, ["<s>", "</s>"], {"bos_token": "<s>", "eos_token": "</s>"}, False),
    ]


def read_gguf_vocab(path):
    """tokenizer.ggml.tokens and .merges of a GGUF v3 file (a minimal reader of its metadata)."""
    with open(path, "rb") as f:
        data = f.read()
    at = 0

    def take(fmt):
        nonlocal at
        v = struct.unpack_from("<" + fmt, data, at)
        at += struct.calcsize("<" + fmt)
        return v[0]

    def string():
        nonlocal at
        n = take("Q")
        at += n
        return data[at - n:at].decode("utf-8")

    scalar = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("I"), take("Q")
            return [value(et) for _ in range(n)]
        return take(scalar[t])

    assert data[:4] == b"GGUF"
    at = 4
    take("I")  # version
    take("Q")  # tensor count
    kvs = {}
    for _ in range(take("Q")):
        key = string()
        kvs[key] = value(take("I"))
    return kvs


def gguf_gpt2_tokenizer(path):
    """The real GPT-2 vocabulary of llama.cpp's ggml-vocab-gpt-2.gguf as a tokenizers BPE."""
    kv = read_gguf_vocab(path)
    tokens, merges = kv["tokenizer.ggml.tokens"], kv["tokenizer.ggml.merges"]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.add_special_tokens(["<|endoftext|>"])
    return tok


def chunks(text, lines_per_chunk=64):
    lines = text.splitlines(keepends=True)
    return ["".join(lines[i:i + lines_per_chunk]) for i in range(0, len(lines), lines_per_chunk)]


def write_texts(path, texts):
    with open(path, "wb") as f:
        f.write(struct.pack("<I", len(texts)))
        for t in texts:
            b = t.encode("utf-8")
            f.write(struct.pack("<I", len(b)))
            f.write(b)


def read_decoded(path, count):
    out = []
    with open(path, "rb") as f:
        for _ in range(count):
            (n,) = struct.unpack("<I", f.read(4))
            out.append(f.read(n))
    return out


def read_ids(path, count):
    out = []
    with open(path, "rb") as f:
        for _ in range(count):
            (n,) = struct.unpack("<I", f.read(4))
            out.append(list(struct.unpack(f"<{n}i", f.read(4 * n))))
    return out


def build(name, pre, post, specials, ignore_merges, files, work):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    pre(tok)  # training splits words as encoding does
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, show_progress=False, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train([str(f) for f in files], trainer)
    post(tok)
    folder = work / name
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    return tok, folder


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--driver", required=True, help="the bpe_encode executable")
    ap.add_argument("--data", required=True, help="the shared data folder")
    ap.add_argument("--families", default="gpt2,llama3,qwen2,roberta_like,gpt2_real,gpt2_real_gguf")
    ap.add_argument("--keep", help="write the tokenizers here and keep them (default: a temporary folder)")
    args = ap.parse_args()
    text_dir = pathlib.Path(args.data) / "text" / "exllamav2-calibration"
    files = [text_dir / f"{f}.utf8" for f in FILES]
    for f in files:
        if not f.is_file():
            print(f"bpe_oracle: {f} not found", file=sys.stderr)
            return 2
    corpus = []
    for f in files:
        corpus += [(f.stem, t) for t in chunks(f.read_text(encoding="utf-8"))]
    work_ctx = tempfile.TemporaryDirectory(prefix="vqr_bpe_oracle_") if not args.keep else None
    work = pathlib.Path(args.keep or work_ctx.name)
    wanted = args.families.split(",")
    ok = True
    totals = {"texts": 0, "tokens": 0}
    runs = [(f[0], f) for f in families()]
    gguf = pathlib.Path(args.data) / "models" / "gguf-vocab-only" / "ggml-vocab-gpt-2.gguf"
    # GPT-2's real vocabulary, twice: as a tokenizer.json, and the GGUF file itself on our side.
    runs += [("gpt2_real", None), ("gpt2_real_gguf", None)]
    for name, family in runs:
        if name not in wanted:
            continue
        if family:
            _, pre, post, specials, config, ignore_merges = family
            tok, folder = build(name, pre, post, specials, ignore_merges, files, work)
        else:
            if not gguf.is_file():
                print(f"{name}: skipped, {gguf} not found")
                continue
            tok, folder = gguf_gpt2_tokenizer(gguf), work / name
            folder.mkdir(parents=True, exist_ok=True)
            tok.save(str(folder / "tokenizer.json"))
            config = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"}
        (folder / "tokenizer_config.json").write_text(json.dumps(config))
        ours_file = gguf if name == "gpt2_real_gguf" else folder / "tokenizer.json"
        edge = EDGE_CASES + NOT_NFC
        if name == "qwen2":
            edge = edge + [d for d in (unicodedata.normalize("NFD", t) for _, t in corpus) if not unicodedata.is_normalized("NFC", d)]
            edge = edge + decomposable_texts()
        # C strings end at NUL: our side encodes the text before it (tokenizer.h).
        edge = [t.split("\0")[0] for t in edge]
        texts = [t for _, t in corpus] + edge
        write_texts(folder / "texts.bin", texts)

        t0 = time.perf_counter()
        single = [tok.encode(t).ids for t in texts]
        t_single = time.perf_counter() - t0
        t0 = time.perf_counter()
        batch = [e.ids for e in tok.encode_batch(texts)]
        t_batch = time.perf_counter() - t0
        assert batch == single

        run = subprocess.run([args.driver, str(ours_file), str(folder / "texts.bin"), str(folder / "ids.bin"),
                              str(folder / "decoded.bin")], capture_output=True, text=True)
        sys.stderr.write(run.stderr)
        fields = run.stdout.split()
        if run.returncode != 0 or len(fields) < 6:
            print(f"{name}: the driver failed (status {run.returncode})")
            ok = False
            continue
        ours_seconds = float(fields[5])
        ours = read_ids(folder / "ids.bin", len(texts))
        mismatched = [i for i in range(len(texts)) if ours[i] != single[i]]
        n_tokens = sum(len(s) for s in single)
        # Decoding: ours against tokenizers' (the same ids), and against the text itself.
        theirs = tok.decode_batch(single, skip_special_tokens=False)
        decoded = read_decoded(folder / "decoded.bin", len(texts))
        decode_diff = [i for i in range(len(texts)) if decoded[i] != theirs[i].encode("utf-8")]
        bos = "<|begin_of_text|>" if name == "llama3" else ""
        prefix_space = name == "roberta_like"
        normalized = [unicodedata.normalize("NFC", t) if name == "qwen2" else t for t in texts]
        not_text = [] if prefix_space else [i for i in range(len(texts)) if decoded[i] != (bos + normalized[i]).encode("utf-8")]
        print(f"{name}: {len(texts)} texts ({len(corpus)} calibration chunks + {len(edge)} edge cases), {n_tokens} tokens: "
              f"{len(texts) - len(mismatched)} texts with identical ids, {len(texts) - len(decode_diff)} with identical decode"
              + ("" if prefix_space else f", {len(texts) - len(not_text)} decoding back to the text"))
        print(f"  speed: ours {n_tokens / ours_seconds / 1e6:.2f} M tokens/s (1 thread); tokenizers "
              f"{n_tokens / t_single / 1e6:.2f} M tokens/s (encode per text) and {n_tokens / t_batch / 1e6:.2f} M tokens/s "
              f"(encode_batch, RAYON_NUM_THREADS={os.environ.get('RAYON_NUM_THREADS', 'unset: all cores')})")
        for i in (decode_diff + not_text)[:3]:
            print(f"  text {i}: our decode {decoded[i][:80]!r}, tokenizers' {theirs[i][:80]!r}, text {texts[i][:80]!r}")
        for i in mismatched[:3]:
            a, b = ours[i], single[i]
            k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            print(f"  text {i} ({(corpus[i][0] if i < len(corpus) else 'edge case')}) differs at token {k}: "
                  f"ours {a[k:k + 8]} tokenizers {b[k:k + 8]}; text there: {tok.decode(b[max(0, k - 4):k + 8])!r}")
        ok = ok and not mismatched and not decode_diff and not not_text
        totals["texts"] += len(texts)
        totals["tokens"] += n_tokens
    print(f"bpe_oracle: {'all identical' if ok else 'MISMATCH'} over {totals['texts']} texts, {totals['tokens']} tokens")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
