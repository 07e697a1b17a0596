#!/usr/bin/env python3
"""transformers as the forward oracle of every architecture we load (issue 19 item 4).

For each architecture: a random-weight model built by transformers from a small config (dim 64 to
128, 2 layers), saved with save_pretrained (fp32 safetensors + config.json, the layout users
download) beside a real byte-level BPE tokenizer trained here with `tokenizers` on the shared text;
then the library (through the Python binding) loads the folder, and
  - its tokenization of fixed text (stories, accents, CJK, Cyrillic, tabs, long digit runs) must
    equal the tokenizer's, id for id, BOS rule included,
  - its logits on those ids must match transformers' within the fp32 bound below, and
  - after GPTQ W4 g32 (symmetric, fp16 scales, so the checkpoint holds exactly the quantized model)
    its compressed-tensors export, loaded by transformers with the compressed-tensors package, must
    give the logits of our quantized model within the same bound: the checkpoint layout (names,
    packing, scales, zero points, config) is the one transformers and vLLM read.

Bound (the one tests/model/forward_paths.h derives for two fp32 forwards that differ in summation
order): any two orders of a dot product of n terms differ by at most 2 n u sum|w||x| (u = 2^-24);
the relative perturbations of the sequential products add (4 per block plus the classifier), the
attention adds 2 u (2 HS + T) per block, each RMSNorm or LayerNorm of width C another C u (2 per
block, one final), and kGain = 4 covers sum|w||x| / |y| and the gain of the elementwise passes.
That bound is asserted as max|ours - theirs| <= bound * max|logit|; the measured figure is printed
(it is typically three orders of magnitude below).

Usage: an interpreter with torch, transformers and tokenizers (scripts/peers.sh prints one) and the
binding on the path:
  VQROUND_LIBRARY=build/libvqround.so PYTHONPATH=bindings/python \
    $(scripts/peers.sh | tail -1) tests/peers/transformers_oracle.py [--data ../shared/data]
Exit status 0 when every architecture agrees, 1 otherwise, 77 when the environment lacks a peer
(the ctest wrapper reports it as skipped, saying why).
"""
import argparse
import math
import os
import sys
import tempfile

SKIP = 77

try:
    import numpy as np
    import torch
    import transformers
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
except ImportError as e:  # the peers environment is optional
    print(f"skipped: the peers environment lacks {e.name} (run scripts/peers.sh)")
    sys.exit(SKIP)

import vqround  # noqa: E402  (after the peers check: the binding needs only numpy)

U = 2.0 ** -24
GAIN = 4.0

# The pre-tokenizer split patterns of the tokenizer families (as their tokenizer.json files write
# them); the byte-level step after the split maps bytes to printable characters.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def training_text(data):
    """A few hundred KB of the shared text: stories, wiki and the multilingual calibration file."""
    paths = [os.path.join(data, "text", "tinystories", "tinystories_val.txt")]
    for root, _, files in os.walk(os.path.join(data, "text")):
        for f in sorted(files):
            if any(k in f for k in ("wiki", "multilingual", "code", "c4", "technical")):
                paths.append(os.path.join(root, f))
    out = []
    for p in paths:
        if os.path.isfile(p):
            with open(p, "rb") as fh:
                out.append(fh.read(200_000).decode("utf-8", "ignore"))
    return out


def make_tokenizer(family, texts, vocab_size, folder):
    """Trains a byte-level BPE of `family` ("llama3", "qwen2", or "gpt2": OPT's, GPT-2's split with
    </s> as BOS) and writes tokenizer.json and tokenizer_config.json into folder. Returns the
    tokenizers object and the BOS id (None: none)."""
    specials = {"llama3": ["<|begin_of_text|>", "<|end_of_text|>"],
                "qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "gpt2": ["<s>", "<pad>", "</s>", "<unk>"]}[family]
    tok = Tokenizer(models.BPE())
    if family == "gpt2":  # the byte-level step's own (GPT-2) split
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_SPLIT if family == "llama3" else QWEN2_SPLIT), behavior="isolated",
                                 invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    bos_token = {"llama3": "<|begin_of_text|>", "qwen2": None, "gpt2": "</s>"}[family]
    eos_token = {"llama3": "<|end_of_text|>", "qwen2": "<|endoftext|>", "gpt2": "</s>"}[family]
    bos = None
    if bos_token:
        bos = tok.token_to_id(bos_token)
        tok.post_processor = processors.TemplateProcessing(single=f"{bos_token} $A", special_tokens=[(bos_token, bos)])
    tok.save(os.path.join(folder, "tokenizer.json"))
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 4096,
           "bos_token": bos_token, "eos_token": eos_token, "add_bos_token": bos_token is not None}
    import json
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as fh:
        json.dump(cfg, fh, indent=2)
    return tok, bos


def architectures():
    """(name, tokenizer family, config class, config kwargs) of each case."""
    common = dict(hidden_size=64, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=2, max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False)
    opt = dict(hidden_size=64, ffn_dim=96, num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=256,
               word_embed_proj_dim=64, do_layer_norm_before=True, pad_token_id=1, eos_token_id=2)
    llama3_rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 32, "rope_theta": 500000.0}
    return [
        ("llama", "llama3", transformers.LlamaConfig, dict(common)),
        ("llama3-rope", "llama3", transformers.LlamaConfig,
         dict(common, hidden_size=128, num_attention_heads=2, num_key_value_heads=1, rope_parameters=llama3_rope)),
        ("mistral-window", "llama3", transformers.MistralConfig, dict(common, sliding_window=24)),
        ("qwen2-bias", "qwen2", transformers.Qwen2Config, dict(common, tie_word_embeddings=True)),
        ("qwen3-qknorm", "qwen2", transformers.Qwen3Config, dict(common, head_dim=32)),
        # OPT: learned positions, LayerNorm with bias, ReLU, biases everywhere, tied head; pre-LN
        # (125M, 1.3B and up) and post-LN with the embedding projections (350M).
        ("opt-pre-ln", "gpt2", transformers.OPTConfig, dict(opt)),
        ("opt-350m-like", "gpt2", transformers.OPTConfig,
         dict(opt, do_layer_norm_before=False, word_embed_proj_dim=32)),
    ]


def randomize(model, seed):
    """Weights that keep activations O(1): matrices N(0, 1/fan_in), embeddings N(0, 1/dim), norm
    gains 1 + U(-0.1, 0.1), biases N(0, 0.1^2)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            elif "norm" in name:
                p.copy_(1 + 0.2 * (torch.rand(p.shape, generator=g) - 0.5))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[-1]))


def bound(cfg, tokens):
    """forward_paths.h's relative bound for this config and sequence length."""
    dim, layers = cfg.hidden_size, cfg.num_hidden_layers
    hidden = getattr(cfg, "intermediate_size", None) or cfg.ffn_dim
    hs = getattr(cfg, "head_dim", None) or dim // cfg.num_attention_heads
    n = max(dim, cfg.num_attention_heads * hs, hidden)
    products = 4 * layers + 1 + 2  # and OPT's two embedding projections
    attention = layers * (2 * hs + tokens)
    norms = (2 * layers + 1) * dim + (2 * layers * hs if "Qwen3" in type(cfg).__name__ else 0)
    return GAIN * 2 * U * (products * (n + 1) + attention + norms)


def compare(ours, theirs, rel):
    """(ok, text): max|ours - theirs| <= rel * max|theirs|."""
    scale = float(np.abs(theirs).max())
    worst = float(np.abs(ours.astype(np.float64) - theirs).max())
    ok = worst <= rel * scale
    return ok, (f"max|diff| {worst:.3g} ({worst / (rel * scale):.2g} of the bound {rel:.3g} x max|logit| "
                f"{scale:.3g}) {'ok' if ok else 'FAIL'}")


def check_export(ours_model, folder, ids, rel, vocab):
    """Quantizes ours_model (GPTQ W4 g32 on 8 random 64-token sequences), exports compressed-tensors,
    loads the export with transformers and compares its logits with ours. (ok, text)."""
    try:
        import compressed_tensors  # noqa: F401  (transformers' loader needs it)
    except ImportError:
        return True, "not checked (no compressed-tensors package: run scripts/peers.sh)"
    calib = np.random.default_rng(7).integers(0, vocab, size=(8, 64)).astype(np.int32)
    ours_model.quantize(list(calib), method="gptq", bits=4, group_size=32, sym=True, scale_dtype="f16", threads=1)
    out = os.path.join(folder, "ct-w4")
    ours_model.export(out, format="compressed-tensors")
    ours = ours_model.logits(ids, threads=1)
    loaded = transformers.AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    loaded.eval()
    with torch.no_grad():
        theirs = loaded(torch.tensor(ids[None, :].astype(np.int64))).logits[0].float().numpy()
    return compare(ours, theirs, rel)


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.environ.get("VQR_DATA_DIR") or os.environ.get("VQR_DATA_DIR_DEFAULT")
                    or os.path.join(here, "..", "..", "..", "shared", "data"))
    ap.add_argument("--tokens", type=int, default=160, help="tokens of the logits comparison")
    args = ap.parse_args()
    if not os.path.isdir(os.path.join(args.data, "text")):
        print(f"skipped: no shared data at {args.data}")
        return SKIP
    torch.set_num_threads(1)
    texts = training_text(args.data)
    probe = texts[0][:3000] + "\n\nNaïve café — 東京 2024: ¿qué tal? Здравствуйте!  Tabs\there, 12345678 digits.\n"
    print(f"transformers {transformers.__version__}, torch {torch.__version__}, vqround {vqround.version()}")
    failures = 0
    for seed, (name, family, config_class, kwargs) in enumerate(architectures()):
        with tempfile.TemporaryDirectory(prefix=f"oracle-{name}-") as folder:
            tok, bos = make_tokenizer(family, texts, 700, folder)
            cfg = config_class(**dict(dict(vocab_size=tok.get_vocab_size(), bos_token_id=bos), **kwargs))
            model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
            model.eval()
            randomize(model, 1000 + seed)
            model.save_pretrained(folder)
            theirs_ids = tok.encode(probe).ids
            ids = np.asarray(theirs_ids[: args.tokens], dtype=np.int32)
            with torch.no_grad():
                theirs = model(torch.tensor(ids[None, :].astype(np.int64))).logits[0].float().numpy()
            try:
                ours_model = vqround.Model(folder)
            except vqround.Error as e:
                print(f"{name:15s} FAIL: the library does not load the folder: {e}")
                failures += 1
                continue
            with ours_model:
                try:
                    ours_ids = list(ours_model.tokenize(probe))
                    same = ours_ids == theirs_ids
                    tok_line = f"tokens {'equal' if same else 'DIFFER'} ({len(theirs_ids)})"
                    if not same:
                        first = next((i for i, (a, b) in enumerate(zip(ours_ids, theirs_ids)) if a != b),
                                     min(len(ours_ids), len(theirs_ids)))
                        tok_line += f": first difference at {first}"
                        failures += 1
                except vqround.Error as e:
                    tok_line = f"tokens FAIL: the library does not tokenize this folder ({e})"
                    failures += 1
                ours = ours_model.logits(ids, threads=1)
                rel = bound(cfg, len(ids))
                ok, line = compare(ours, theirs, rel)
                failures += not ok
                print(f"{name:15s} logits {line}; {tok_line}")
                ok, line = check_export(ours_model, folder, ids, rel, cfg.vocab_size)
                failures += not ok
                print(f"{'':15s} compressed-tensors W4 g32 through transformers: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
