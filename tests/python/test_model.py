"""vqround.Model on the real stories260K checkpoint of the shared data folder: info against the
checkpoint header, tokenize against a transcription of llama2.c run.c encode(), the fp32 NLL
reference, whole-model RTN/GPTQ, the save/load round trip, errors and progress. The data folder is
$VQR_DATA_DIR, else $VQR_DATA_DIR_DEFAULT, else ../shared/data beside the source tree; without it
every test is skipped, unless VQR_REQUIRE_DATA=1 (CI), which makes its absence a failure.
"""
import math
import os
import struct
import tempfile
import unittest

import numpy as np

from shared_data import DATA, MODEL_FILE, TOKENIZER_FILE, require_stories260k
import vqround
from vqround import Error, Status

# Reference (shared/data/models/stories260K/reference_nll_tinystories_val.txt, llama2.c run.c):
# the first 200 paragraphs of tinystories_val.txt, one BOS sequence each. The tolerance covers the
# printed 6 decimals plus fp32 summation-order differences between run.c and the library.
REF_PARAGRAPHS, REF_PREDICTED, REF_MEAN_NLL, REF_TOLERANCE = 200, 19395, 1.439589, 1e-4
# RTN at 8 bits (per-row groups) moves the mean NLL by about 1e-3 on this model.
RTN8_TOLERANCE = 0.005
CALIB_SEQUENCES, CALIB_LENGTH = 8, 128
# Comparisons that need no reference (GPTQ vs RTN, the round trip) use the first 50 paragraphs,
# which keeps the sanitizer build's run short.
SMALL_EVAL = 50
# The sanitizer build (ctest sets VQR_SANITIZED=1) checks the binding's memory handling, not
# quality: the release build runs the quality comparisons at full size.
SANITIZED = os.environ.get("VQR_SANITIZED") == "1"
# One thread: this tiny model gains nothing from more, and OpenMP barriers on a busy machine can
# make a 2-thread evaluation 20x slower than a 1-thread one.
THREADS = 1


def paragraphs(path, count):
    """The first `count` pieces of the file split on every b"\\n\\n", empty pieces skipped."""
    with open(path, "rb") as f:
        return [p for p in f.read().split(b"\n\n") if p][:count]


def read_vocab(path, vocab_size):
    """llama2.c tokenizer file: int32 max_token_length, then per token float32 score, int32
    length, bytes."""
    pieces, scores = [], []
    with open(path, "rb") as f:
        f.read(4)
        for _ in range(vocab_size):
            score, n = struct.unpack("<fi", f.read(8))
            pieces.append(f.read(n))
            scores.append(score)
    return pieces, scores


def runc_encode(pieces, scores, text, bos):
    """llama2.c run.c encode() (karpathy/llama2.c @ 350e04fe), transcribed literally: BOS, the
    dummy-prefix space, code points looked up or byte-fallen-back (id = byte + 3), then greedy
    merges of the best-scoring adjacent pair, leftmost on ties."""
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    tokens = [1] if bos else []
    if text:
        tokens.append(lookup[b" "])
    buf = b""
    for c in range(len(text)):
        if text[c] & 0xC0 != 0x80:
            buf = b""
        buf += text[c:c + 1]
        nxt = text[c + 1] if c + 1 < len(text) else 0
        if nxt & 0xC0 == 0x80 and len(buf) < 4:
            continue
        if buf in lookup:
            tokens.append(lookup[buf])
        else:
            tokens.extend(b + 3 for b in buf)
        buf = b""
    while True:
        best_score, best_id, best_idx = -1e10, -1, -1
        for i in range(len(tokens) - 1):
            merged = lookup.get(pieces[tokens[i]] + pieces[tokens[i + 1]], -1)
            if merged != -1 and scores[merged] > best_score:
                best_score, best_id, best_idx = scores[merged], merged, i
        if best_idx == -1:
            break
        tokens[best_idx:best_idx + 2] = [best_id]
    return tokens


def setUpModule():
    require_stories260k()


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = vqround.Model(MODEL_FILE, TOKENIZER_FILE)
        seq_len = cls.model.info.seq_len
        val = os.path.join(DATA, "text", "tinystories", "tinystories_val.txt")
        cls.eval_set = [cls.model.tokenize(p)[:seq_len] for p in paragraphs(val, REF_PARAGRAPHS)]
        # 8 consecutive windows of 128 tokens from the start of tiny.utf8 (cut at a line end).
        with open(os.path.join(DATA, "text", "exllamav2-calibration", "tiny.utf8"), "rb") as f:
            head = f.read(8192)
        stream = cls.model.tokenize(head[:head.rindex(b"\n")])
        assert stream.size >= CALIB_SEQUENCES * CALIB_LENGTH, stream.size
        cls.calib = list(stream[:CALIB_SEQUENCES * CALIB_LENGTH].reshape(CALIB_SEQUENCES, -1))
        total, predicted = cls.model.eval_nll(cls.eval_set, threads=THREADS)
        cls.fp32_mean, cls.fp32_predicted = total / predicted, predicted

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def mean_nll(self, m, sequences=None):
        """Mean NLL of the evaluation set, or of the first `sequences` of it."""
        total, predicted = m.eval_nll(self.eval_set[:sequences], threads=THREADS)
        if sequences is None:
            self.assertEqual(predicted, REF_PREDICTED)
        return total / predicted

    def quantized(self, method, bits, **options):
        """A freshly loaded model quantized with method/bits; (model, reports)."""
        m = vqround.Model(MODEL_FILE, TOKENIZER_FILE)
        self.addCleanup(m.close)
        return m, m.quantize(self.calib, method=method, bits=bits, threads=THREADS, **options)

    # --- loading ----------------------------------------------------------------------------------

    def test_info_matches_the_checkpoint_header(self):
        with open(MODEL_FILE, "rb") as f:
            dim, hidden, layers, heads, kv_heads, vocab, seq_len = struct.unpack("<7i", f.read(28))
        info = self.model.info
        self.assertEqual((info.dim, info.hidden_dim, info.n_layers, info.n_heads, info.n_kv_heads,
                          info.vocab_size, info.seq_len),
                         (dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len))
        self.assertEqual((dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len),
                         (64, 172, 5, 8, 4, 512, 512))
        self.assertEqual(info.shared_classifier, vocab > 0)
        kv = dim * kv_heads // heads
        # embedding, per layer (2 rmsnorms, wq, wk, wv, wo, w1, w2, w3), final rmsnorm, classifier
        per_layer = 2 * dim + 2 * dim * dim + 2 * kv * dim + 3 * hidden * dim
        params = (abs(vocab) * dim + layers * per_layer + dim
                  + (0 if info.shared_classifier else abs(vocab) * dim))
        self.assertEqual(info.parameters, params)
        self.assertEqual(info.quantized_layers, 0)
        self.assertEqual(info._asdict()["vocab_size"], 512)
        self.assertEqual(self.model.layer_reports(), [])

    def test_tokenizer_resolved_beside_the_checkpoint(self):
        with vqround.Model(MODEL_FILE) as m:
            self.assertEqual(m.info, self.model.info)
            np.testing.assert_array_equal(m.tokenize("Once upon a time"),
                                          self.model.tokenize("Once upon a time"))
        with self.assertRaises(Error) as cm:
            m.info
        self.assertEqual(cm.exception.status, Status.INVALID_ARGUMENT)  # closed

    # --- tokenizer --------------------------------------------------------------------------------

    def test_tokenize_matches_runc_encode(self):
        pieces, scores = read_vocab(TOKENIZER_FILE, self.model.info.vocab_size)
        val = os.path.join(DATA, "text", "tinystories", "tinystories_val.txt")
        texts = ["Once upon a time", "Hello, world!", 'Lily\'s mom said: "no".',
                 "\u00e9t\u00e9 \u20ac 5\n\n x"] + [p.decode("utf-8") for p in paragraphs(val, 3)]
        for text in texts:
            ids = self.model.tokenize(text)
            self.assertEqual(ids.dtype, np.int32)
            self.assertEqual(ids[0], 1, "BOS first")
            self.assertEqual(ids.tolist(), runc_encode(pieces, scores, text.encode(), True), text)
            np.testing.assert_array_equal(self.model.tokenize(text, bos=False), ids[1:])
            np.testing.assert_array_equal(self.model.tokenize(text.encode("utf-8")), ids)
        self.assertEqual(self.model.tokenize("").tolist(), [1])
        self.assertEqual(self.model.tokenize("", bos=False).tolist(), [])

    # --- evaluation -------------------------------------------------------------------------------

    def test_fp32_nll_matches_the_reference(self):
        self.assertEqual(len(self.eval_set), REF_PARAGRAPHS)
        self.assertEqual(self.fp32_predicted, REF_PREDICTED)
        self.assertAlmostEqual(self.fp32_mean, REF_MEAN_NLL, delta=REF_TOLERANCE)
        # Sequences as a 2-D array: one per row.
        rows = np.stack([s[:16] for s in self.eval_set[:4]])
        total, predicted = self.model.eval_nll(rows, threads=THREADS)
        self.assertEqual(predicted, 4 * 15)
        self.assertEqual((total, predicted), self.model.eval_nll(list(rows), threads=THREADS))

    # --- quantization -----------------------------------------------------------------------------

    def test_logits_score_what_eval_nll_scores(self):
        # The log-softmax of each row at the next token, summed in double, is eval_nll's sum over the
        # same sequence (both score tokens 1..n-1 from one forward; only the NLL's own log-sum-exp
        # arithmetic differs: a relative 1e-6 covers it at this length).
        ids = self.eval_set[0]
        logits = self.model.logits(ids, threads=THREADS)
        self.assertEqual(logits.shape, (ids.size, self.model.info.vocab_size))
        self.assertEqual(logits.dtype, np.float32)
        z = logits.astype(np.float64)
        lse = np.log(np.exp(z - z.max(axis=1, keepdims=True)).sum(axis=1)) + z.max(axis=1)
        nll = float(np.sum(lse[:-1] - z[np.arange(ids.size - 1), ids[1:]]))
        total, predicted = self.model.eval_nll([ids], threads=THREADS)
        self.assertEqual(predicted, ids.size - 1)
        self.assertAlmostEqual(nll, total, delta=1e-6 * abs(total))
        # A second call gives the same bits; the rows depend only on their prefix (causality).
        np.testing.assert_array_equal(self.model.logits(ids, threads=THREADS), logits)
        np.testing.assert_allclose(self.model.logits(ids[:5], threads=THREADS), logits[:5], rtol=1e-5, atol=1e-5)
        with self.assertRaises(vqround.Error) as e:
            self.model.logits([])
        self.assertEqual(e.exception.status, vqround.Status.INVALID_ARGUMENT)
        with self.assertRaises(vqround.Error):
            self.model.logits([1, self.model.info.vocab_size])

    def test_rtn8_keeps_the_nll(self):
        m, reports = self.quantized("rtn", 8)
        self.assertEqual(len(reports), 35)
        self.assertEqual(reports[0].name, "blk.0.wq")
        kinds = {"wq", "wk", "wv", "wo", "w1", "w2", "w3"}
        for i, r in enumerate(reports):
            layer, kind = r.name.split(".")[1:]
            self.assertEqual(int(layer), i // 7, r.name)  # block by block
            self.assertIn(kind, kinds)
            self.assertEqual(r.method, "rtn")
            self.assertTrue(math.isfinite(r.proxy_loss) and r.proxy_loss >= 0, r)
        self.assertEqual(len({r.name for r in reports}), 35)
        self.assertEqual(m.info.quantized_layers, 35)
        self.assertEqual([r.name for r in m.layer_reports()], [r.name for r in reports])
        if SANITIZED:
            mean, fp32 = self.mean_nll(m, SMALL_EVAL), self.mean_nll(self.model, SMALL_EVAL)
        else:
            mean, fp32 = self.mean_nll(m), self.fp32_mean
        self.assertLess(abs(mean - fp32), RTN8_TOLERANCE)

    @unittest.skipIf(SANITIZED, "two whole-model runs for a quality comparison: release build only")
    def test_gptq3_beats_rtn3(self):
        rtn, _ = self.quantized("rtn", 3)
        gptq, reports = self.quantized("gptq", 3, damp=0.01, report_loss=2)  # 2: rtn_proxy_loss too
        self.assertEqual({r.method for r in reports}, {"gptq"})
        rtn_mean, gptq_mean = self.mean_nll(rtn, SMALL_EVAL), self.mean_nll(gptq, SMALL_EVAL)
        fp32_mean = self.mean_nll(self.model, SMALL_EVAL)
        self.assertLess(gptq_mean, rtn_mean)
        self.assertGreater(gptq_mean, fp32_mean)
        self.assertGreater(rtn_mean, fp32_mean)
        # In all, GPTQ's layer objective is below RTN's on the same Hessians.
        self.assertLess(sum(r.proxy_loss for r in reports), sum(r.rtn_proxy_loss for r in reports))

    def test_save_and_load_round_trip(self):
        m, _ = self.quantized("rtn", 4)
        small = self.eval_set[:SMALL_EVAL]
        total, predicted = m.eval_nll(small, threads=THREADS)
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "rtn4")
            m.save(out)
            self.assertTrue(os.path.isfile(os.path.join(out, "model.bin")))
            with vqround.Model(out) as back:
                # Bit for bit the same weights, so the same sums.
                self.assertEqual(back.eval_nll(small, threads=THREADS), (total, predicted))
                self.assertEqual(back.info.quantized_layers, 0)
                self.assertEqual(back.info.parameters, m.info.parameters)
            with self.assertRaises(Error) as cm:
                m.save(out)
            self.assertEqual(cm.exception.status, Status.INVALID_ARGUMENT)
            self.assertIn("exists", cm.exception.message)
            with self.assertRaises(Error) as cm:
                m.save(os.path.join(tmp, "missing", "sub"))
            self.assertEqual(cm.exception.status, Status.IO)
            self.assertEqual(sorted(os.listdir(tmp)), ["rtn4"])

    # --- errors and progress ----------------------------------------------------------------------

    def assertStatus(self, status, fn, *args, **kwargs):
        with self.assertRaises(Error) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.status, status, cm.exception)
        self.assertTrue(cm.exception.message)

    def test_errors(self):
        m, seq_len = self.model, self.model.info.seq_len
        self.assertStatus(Status.IO, vqround.Model, MODEL_FILE + ".missing")
        self.assertStatus(Status.IO, vqround.Model, MODEL_FILE, TOKENIZER_FILE + ".missing")
        with tempfile.TemporaryDirectory() as tmp:  # a folder without model.bin
            self.assertStatus(Status.IO, vqround.Model, tmp)
        ok = np.array([1, 5, 6], dtype=np.int32)
        bad = Status.INVALID_ARGUMENT
        self.assertStatus(bad, m.eval_nll, [])
        self.assertStatus(bad, m.eval_nll, [ok, np.zeros(0, dtype=np.int32)])
        self.assertStatus(bad, m.eval_nll, [np.ones(seq_len + 1, dtype=np.int32)])
        self.assertStatus(bad, m.eval_nll, [np.array([1, 512])])
        self.assertStatus(bad, m.eval_nll, [np.array([1, -1])])
        self.assertStatus(bad, m.eval_nll, [np.array([1.0, 2.0])])
        self.assertStatus(bad, m.eval_nll, ok)  # one sequence, not wrapped in a list
        self.assertStatus(bad, m.eval_nll, [np.array([1, 2 ** 40])])
        self.assertStatus(bad, m.tokenize, "a\0b")
        self.assertStatus(bad, m.tokenize, 5)
        full = [np.ones(seq_len, dtype=np.int32)]  # exactly seq_len tokens is allowed
        self.assertEqual(m.eval_nll(full, threads=THREADS)[1], seq_len - 1)
        # Quantize: checked before anything changes.
        self.assertStatus(bad, m.quantize, [], method="rtn")
        self.assertStatus(bad, m.quantize, [np.ones(seq_len + 1, dtype=np.int32)], method="rtn")
        self.assertStatus(bad, m.quantize, [ok], method="nope")
        self.assertStatus(Status.OUT_OF_RANGE, m.quantize, [ok], method="rtn", bits=9)
        self.assertStatus(bad, m.quantize, [ok], method="rtn", seed=-1.5)
        with self.assertRaises(TypeError):
            m.quantize([ok], method="rtn", no_such_option=1)
        self.assertEqual(m.info.quantized_layers, 0)
        self.assertEqual(m.layer_reports(), [])

    def test_progress_sees_the_model_stage(self):
        m = vqround.Model(MODEL_FILE, TOKENIZER_FILE)
        self.addCleanup(m.close)
        seen = []
        m.quantize(self.calib[:2], method="rtn", bits=4, threads=THREADS,
                   progress=lambda stage, done, total, loss: seen.append((stage, done, total)))
        model = [s for s in seen if s[0] == "model"]
        self.assertTrue(model, seen)
        # vqr_context_set_progress promises a call when a stage completes, however fast.
        self.assertEqual(model[-1][1:], (35, 35))
        # A truthy return on "model" cancels.
        with self.assertRaises(Error) as cm:
            m.quantize(self.calib[:2], method="rtn", bits=4, threads=THREADS,
                       progress=lambda stage, done, total, loss: stage == "model")
        self.assertEqual(cm.exception.status, Status.CANCELLED)

        # An exception raised by the callable is re-raised as itself.
        def boom(stage, done, total, loss):
            raise KeyError(stage)
        with self.assertRaises(KeyError):
            m.quantize(self.calib[:2], method="rtn", bits=4, threads=THREADS, progress=boom)
        # eval_nll reports too, under stage "eval".
        stages = set()
        m.eval_nll(self.eval_set[:3], threads=THREADS,
                   progress=lambda stage, *rest: stages.add(stage))
        self.assertEqual(stages, {"eval"})


if __name__ == "__main__":
    unittest.main()
