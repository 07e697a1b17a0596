"""The 0.4.0 model API of the binding on the real stories260K checkpoint: vqround.Sequences (the
paragraph, window and random-window protocols from text, ids and files), per-layer rules
(override / skip / clear_overrides) and their LayerInfo records, layer-wise access (linears,
linear_weight, collect_hessians), metadata, export round trips, the richer ModelInfo, and
scale_dtype. The data folder is found as in test_model.py ($VQR_DATA_DIR, $VQR_DATA_DIR_DEFAULT,
../shared/data); without it every test is skipped unless VQR_REQUIRE_DATA=1.
"""
import copy
import ctypes
import json
import os
import pickle
import shutil
import tempfile
import unittest

import numpy as np

from shared_data import MODEL_FILE, TEXT_FILE, TOKENIZER_FILE, require_stories260k
import vqround
from vqround import Error, Status, _lib

# One thread: this tiny model gains nothing from more (see test_model.py).
THREADS = 1
# The text the sequences are built from: the first paragraphs of tinystories_val.txt.
PARAGRAPHS = 120
EVAL_SEQUENCES = 20
KINDS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")


def setUpModule():
    require_stories260k()


class ModelApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.model = vqround.Model(MODEL_FILE, TOKENIZER_FILE)
        with open(TEXT_FILE, encoding="utf-8") as f:
            pieces = f.read().split("\n\n")
        cls.paragraphs = [p for p in pieces if p][:PARAGRAPHS]
        cls.text = "\n\n".join(cls.paragraphs)
        cls.calib = cls.model.sequences_from_text(cls.text, "random_windows", count=8, length=128,
                                                  seed=0)
        cls.eval_set = cls.model.sequences_from_text(cls.text, "paragraphs",
                                                     count=EVAL_SEQUENCES)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vqr_model_api_")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def fresh(self, path=MODEL_FILE, tokenizer=TOKENIZER_FILE):
        m = vqround.Model(path, tokenizer)
        self.addCleanup(m.close)
        return m

    def assertStatus(self, status, fn, *args, **kwargs):
        with self.assertRaises(Error) as cm:
            fn(*args, **kwargs)
        self.assertEqual(cm.exception.status, status, cm.exception)
        self.assertTrue(cm.exception.message)
        return cm.exception

    def nll(self, m, sequences=None):
        return m.eval_nll(self.eval_set if sequences is None else sequences, threads=THREADS)

    # --- sequences --------------------------------------------------------------------------------

    def test_paragraphs_equal_tokenize(self):
        m = self.model
        seqs = m.sequences_from_text(self.text, "paragraphs", count=30, length=100)
        want = [m.tokenize(p)[:100] for p in self.paragraphs[:30]]
        self.assertIsInstance(seqs, vqround.Sequences)
        self.assertEqual(len(seqs), 30)
        self.assertEqual(seqs.tokens.dtype, np.int32)
        self.assertEqual(seqs.lengths.dtype, np.int64)
        self.assertEqual(seqs.lengths.tolist(), [w.size for w in want])
        self.assertEqual(seqs.total_tokens, sum(w.size for w in want))
        for got, w in zip(seqs, want):
            np.testing.assert_array_equal(got, w)
        np.testing.assert_array_equal(seqs.tokens, np.concatenate(want))
        self.assertFalse(seqs.tokens.flags.writeable)
        # count 0 = every paragraph; length 0 = min(2048, seq_len).
        every = m.sequences_from_text(self.text)
        self.assertEqual(len(every), len(self.paragraphs))
        seq_len = m.info.seq_len
        for i in (0, 7, len(self.paragraphs) - 1):
            np.testing.assert_array_equal(every[i], m.tokenize(self.paragraphs[i])[:seq_len])
        # The same from bytes, from a file, and through the class method.
        self.assertEqual(m.sequences_from_text(self.text.encode("utf-8"), count=30, length=100),
                         seqs)
        path = os.path.join(self.tmp, "text.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write(self.text)
        self.assertEqual(m.sequences_from_file(path, count=30, length=100), seqs)
        self.assertEqual(vqround.Sequences.from_text(m, self.text, count=30, length=100), seqs)
        # Indexing, slicing and packing.
        np.testing.assert_array_equal(seqs[-1], want[-1])
        self.assertEqual(seqs[2:5], vqround.Sequences.from_list(want[2:5]))
        self.assertEqual(len(seqs[30:]), 0)
        with self.assertRaises(IndexError):
            seqs[30]
        # Usable as is by eval_nll (the same sums as the list form).
        self.assertEqual(self.nll(m, seqs), self.nll(m, list(seqs)))

    def test_windows_slice_the_document(self):
        m = self.model
        stream = m.tokenize(self.text)  # BOS once, at the start of the document
        windows = m.sequences_from_text(self.text, "windows", length=128)
        self.assertEqual(len(windows), stream.size // 128)
        self.assertEqual(set(windows.lengths.tolist()), {128})
        np.testing.assert_array_equal(windows.tokens, stream[:len(windows) * 128])
        for k in (0, 1, len(windows) - 1):
            np.testing.assert_array_equal(windows[k], stream[k * 128:(k + 1) * 128])
        first = m.sequences_from_text(self.text, "windows", count=3, length=128)
        self.assertEqual(first, windows[:3])
        # Too short for one window: an empty set, which quantize/eval_nll refuse.
        empty = m.sequences_from_text("Once upon a time", "windows", length=128)
        self.assertEqual((len(empty), empty.total_tokens), (0, 0))
        self.assertStatus(Status.INVALID_ARGUMENT, m.eval_nll, empty)

    def test_random_windows_are_deterministic_by_seed(self):
        m = self.model
        stream = np.concatenate([m.tokenize(p) for p in self.paragraphs])  # BOS per paragraph
        a = m.sequences_from_text(self.text, "random_windows", count=6, length=64, seed=7)
        b = m.sequences_from_text(self.text, "random_windows", count=6, length=64, seed=7)
        c = m.sequences_from_text(self.text, "random_windows", count=6, length=64, seed=8)
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(a.lengths.tolist(), [64] * 6)
        views = np.lib.stride_tricks.sliding_window_view(stream, 64)
        for w in list(a) + list(c):
            self.assertTrue((views == w).all(axis=1).any(), "a window is not a slice of the stream")
        # The same windows from the paragraph stream given as ids.
        self.assertEqual(m.sequences_from_ids(stream, "random_windows", count=6, length=64,
                                              seed=7), a)
        # A stream no longer than the window gives one window, the whole stream.
        short = m.sequences_from_text("Once upon a time", "random_windows", count=4, length=64)
        self.assertEqual(len(short), 1)
        np.testing.assert_array_equal(short[0], m.tokenize("Once upon a time"))
        self.assertStatus(Status.OUT_OF_RANGE, m.sequences_from_text, self.text, "random_windows",
                          count=0, length=64)

    def test_ids_and_id_files(self):
        m = self.model
        ids = m.tokenize(self.text)
        windows = m.sequences_from_ids(ids, "windows", length=100)
        self.assertEqual(len(windows), ids.size // 100)
        np.testing.assert_array_equal(windows.tokens, ids[:len(windows) * 100])
        self.assertEqual(m.sequences_from_ids(ids.tolist(), length=100), windows)  # a list works
        path = os.path.join(self.tmp, "ids.bin")
        ids.astype("<u4").tofile(path)
        self.assertEqual(m.sequences_from_file(path, ids=True, length=100), windows)
        self.assertEqual(m.sequences_from_file(path, ids=True, sampling="random_windows", count=3,
                                               length=100, seed=5),
                         m.sequences_from_ids(ids, "random_windows", count=3, length=100, seed=5))

    def test_sequence_errors(self):
        m, seq_len = self.model, self.model.info.seq_len
        ids = np.arange(1, 300, dtype=np.int32)
        bad = Status.INVALID_ARGUMENT
        self.assertStatus(bad, m.sequences_from_ids, ids, "paragraphs")
        self.assertStatus(bad, m.sequences_from_ids, np.array([1, 512]), length=1)
        self.assertStatus(bad, m.sequences_from_ids, np.array([1, -1]), length=1)
        self.assertStatus(bad, m.sequences_from_ids, ids.reshape(13, 23))
        self.assertStatus(bad, m.sequences_from_ids, ids.astype(np.float32))
        self.assertStatus(bad, m.sequences_from_text, self.text, "nope")
        self.assertStatus(bad, m.sequences_from_text, "a\0b")
        self.assertStatus(bad, m.sequences_from_text, self.text, count=1.5)
        self.assertStatus(Status.OUT_OF_RANGE, m.sequences_from_text, self.text,
                          length=seq_len + 1)
        self.assertStatus(Status.OUT_OF_RANGE, m.sequences_from_text, self.text, length=-1)
        self.assertStatus(Status.OUT_OF_RANGE, m.sequences_from_text, self.text, count=-1)
        self.assertStatus(Status.OUT_OF_RANGE, m.sequences_from_text, self.text, seed=-1)
        missing = os.path.join(self.tmp, "missing.txt")
        e = self.assertStatus(Status.IO, m.sequences_from_file, missing)
        self.assertIn("missing.txt", e.message)
        odd = os.path.join(self.tmp, "odd.bin")
        with open(odd, "wb") as f:
            f.write(b"\1\0\0\0\2")  # not a multiple of 4 bytes
        self.assertIn("odd.bin", self.assertStatus(Status.FORMAT, m.sequences_from_file, odd,
                                                   ids=True, length=1).message)
        big = os.path.join(self.tmp, "big.bin")
        np.array([1, 2, 600], dtype="<u4").tofile(big)  # id >= vocab_size
        self.assertStatus(Status.FORMAT, m.sequences_from_file, big, ids=True, length=1)
        self.assertStatus(bad, m.sequences_from_file, big, ids=True, sampling="paragraphs")
        # A model without a tokenizer: text is UNSUPPORTED, ids still work.
        alone = os.path.join(self.tmp, "alone")
        os.mkdir(alone)
        shutil.copy(MODEL_FILE, alone)
        with vqround.Model(os.path.join(alone, "stories260K.bin")) as bare:
            self.assertIsNone(bare.info.tokenizer_path)
            self.assertStatus(Status.UNSUPPORTED, bare.sequences_from_text, self.text)
            self.assertEqual(len(bare.sequences_from_ids(ids, length=100)), 2)
        with self.assertRaises(Error):
            vqround.Sequences([1, 2, 3], [2])  # lengths do not add up

    # --- per-layer rules --------------------------------------------------------------------------

    def test_overrides_and_skip_in_layer_infos(self):
        m = self.fresh()
        self.assertEqual(m.layer_infos(), [])
        kept = m.linear_weight("blk.1.w2")
        before = m.linear_weight("blk.0.wq")
        self.assertIs(m.override("blk.0.*", bits=8), m)
        m.override("*.wo", group_size=32, sym=True).skip("blk.1.w2")
        seen = []
        reports = m.quantize(self.calib, method="rtn", bits=4, threads=THREADS,
                             progress=lambda stage, *rest: seen.append(len(m.layer_infos()))
                             if stage == "model" else None)
        self.assertEqual(seen, sorted(seen))  # the records grow while quantize runs
        self.assertEqual(seen[-1], 35)
        infos = m.layer_infos()
        self.assertEqual([i.name for i in infos], [r.name for r in reports])
        shapes = {lin.name: (lin.rows, lin.cols) for lin in m.linears()}
        for info in infos:
            block, kind = int(info.name.split(".")[1]), info.name.split(".")[2]
            self.assertEqual(info.block, block, info)
            self.assertEqual(info.method, "rtn", info)
            self.assertEqual(info.bits, 8 if block == 0 else 4, info)
            self.assertEqual(info.group_size, 32 if kind == "wo" else -1, info)
            self.assertEqual(info.sym, kind == "wo", info)
            self.assertEqual(info.skipped, info.name == "blk.1.w2", info)
            self.assertEqual((info.rows, info.cols), shapes[info.name], info)
        self.assertEqual(m.info.quantized_layers, 34)
        np.testing.assert_array_equal(m.linear_weight("blk.1.w2"), kept)  # bit for bit
        self.assertFalse(np.array_equal(m.linear_weight("blk.0.wq"), before))

        # A rule with a bad value adds nothing, not even its good parameters.
        m.clear_overrides()
        self.assertStatus(Status.OUT_OF_RANGE, m.override, "blk.2.*", bits=8, group_size=0)
        self.assertStatus(Status.OUT_OF_RANGE, m.override, "blk.2.*", bits=9)
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "blk.2.*", method="nope")
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "blk.2.*", bits="8")
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "blk.2.*", damp="x")
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "blk.2.*", bits=None)
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "", bits=8)
        self.assertStatus(Status.INVALID_ARGUMENT, m.override, "blk.2.*")
        self.assertStatus(Status.INVALID_ARGUMENT, m.skip, "")
        with self.assertRaises(TypeError):
            m.override("blk.2.*", no_such_param=1)
        m.override("blk.3.w1", damp=0.1, scale_dtype="f16", grid="quarot", mse=True)
        m.quantize(self.calib, method="rtn", bits=4, threads=THREADS)
        infos = m.layer_infos()
        self.assertEqual({(i.bits, i.group_size, i.sym, i.skipped) for i in infos},
                         {(4, -1, False, False)})
        self.assertEqual(m.info.quantized_layers, 35)

    def test_blockwise_autoround(self):
        # Block-wise AutoRound (since 0.5.0): the seven linears of each block trained together; a
        # few steps lower the NLL below layer-wise AutoRound's with the same steps, and a block
        # with a per-layer rule is refused.
        nll = {}
        for blockwise in (False, True):
            m = self.fresh()
            reports = m.quantize(self.calib, method="autoround", bits=3, steps=20, blockwise=blockwise,
                                 block_batch=4, threads=THREADS)
            self.assertEqual(len(reports), 35)
            total, predicted = m.eval_nll(self.calib)  # on the calibration windows themselves
            nll[blockwise] = total / predicted
        self.assertLess(nll[True], nll[False])
        m = self.fresh()
        m.override("blk.2.w2", bits=4)
        self.assertStatus(Status.INVALID_ARGUMENT, m.quantize, self.calib, method="autoround", bits=3,
                          steps=2, blockwise=True, threads=THREADS)

    def test_end_to_end_distillation(self):
        # End-to-end VQRound (since 0.5.0): zero steps give the initialization (GPTQ calibrated on
        # the sequences left after the held-out one); a run reports its steps and held-out scores;
        # a run cancelled by the progress callback resumes from its checkpoint to the
        # uninterrupted result; a resume with other settings is refused.
        m = self.fresh()
        m.quantize(self.calib, method="vqround", bits=3, init="gptq", e2e=True, steps=0, holdout=1,
                   kmeans_iters=10, threads=THREADS)
        ref = self.fresh()
        ref.quantize([self.calib[i] for i in range(7)], method="gptq", bits=3, threads=THREADS)
        self.assertEqual(m.eval_nll(self.calib), ref.eval_nll(self.calib))
        st = m.distill_stats()
        self.assertTrue(st.ran)
        self.assertEqual((st.steps, st.best_step, st.train_sequences, st.holdout_sequences), (0, -1, 7, 1))
        self.assertEqual(len(st.evals), 1)
        self.assertFalse(ref.distill_stats().ran)

        options = dict(method="vqround", bits=3, e2e=True, steps=12, eval_every=4, holdout=1,
                       kmeans_iters=10, codebook_size=64, teacher_topk=16, threads=THREADS)
        whole = self.fresh()
        whole.quantize(self.calib, **options)
        st = whole.distill_stats()
        self.assertEqual((st.steps, len(st.loss), len(st.reg)), (12, 12, 12))
        self.assertEqual([e[0] for e in st.evals], [0, 4, 8, 12])
        self.assertEqual(st.tokens, 12 * 128)
        self.assertEqual(st.teacher_k, 16)
        self.assertGreater(st.quantized_weights, st.trainable_params)
        with tempfile.TemporaryDirectory() as tmp:
            ckpt = os.path.join(tmp, "run.ckpt")
            seen = []

            def stop_after_some_steps(stage, done, total, loss):
                seen.append(stage)
                return stage == "distill" and done >= 1

            part = self.fresh()
            self.assertStatus(Status.CANCELLED, part.quantize, self.calib, checkpoint=ckpt,
                              progress=stop_after_some_steps, **options)
            self.assertIn("distill", seen)
            self.assertTrue(os.path.exists(ckpt))
            other = self.fresh()
            self.assertStatus(Status.INVALID_ARGUMENT, other.quantize, self.calib, checkpoint=ckpt,
                              resume=True, **dict(options, lr=0.05))
            resumed = self.fresh()
            resumed.quantize(self.calib, checkpoint=ckpt, resume=True, **options)
            self.assertEqual(resumed.distill_stats().loss, st.loss)
            self.assertEqual(resumed.eval_nll(self.calib), whole.eval_nll(self.calib))

    # --- layer-wise access ------------------------------------------------------------------------

    def test_linears_weights_and_hessians(self):
        m = self.fresh()
        info = m.info
        linears = m.linears()
        self.assertEqual(len(linears), info.n_layers * 7)
        kv = info.dim * info.n_kv_heads // info.n_heads
        shapes = {"wq": (info.dim, info.dim), "wk": (kv, info.dim), "wv": (kv, info.dim),
                  "wo": (info.dim, info.dim), "w1": (info.hidden_dim, info.dim),
                  "w2": (info.dim, info.hidden_dim), "w3": (info.hidden_dim, info.dim)}
        for lin in linears:
            self.assertEqual(lin.name, f"blk.{lin.index // 7}.{KINDS[lin.index % 7]}")
            self.assertEqual((lin.block, lin.kind), (lin.index // 7, KINDS[lin.index % 7]))
            self.assertEqual((lin.rows, lin.cols), shapes[lin.kind])
        # wq/wk/wv share an input, as do w1/w3.
        idx = [lin.hessian_index for lin in linears[:7]]
        self.assertEqual(idx[0], idx[1])
        self.assertEqual(idx[1], idx[2])
        self.assertEqual(idx[4], idx[6])
        self.assertEqual(len(set(idx)), 4)
        # linear_weight: a float32 copy, by index or by name.
        w = m.linear_weight(5)
        self.assertEqual((w.dtype, w.shape), (np.float32, shapes["w2"]))
        np.testing.assert_array_equal(w, m.linear_weight("blk.0.w2"))
        w[:] = 0
        self.assertTrue(np.any(m.linear_weight(5) != 0), "linear_weight must return a copy")
        self.assertStatus(Status.INVALID_ARGUMENT, m.linear_weight, len(linears))
        self.assertStatus(Status.INVALID_ARGUMENT, m.linear_weight, -1)
        self.assertStatus(Status.INVALID_ARGUMENT, m.linear_weight, "blk.9.wq")

        hessians = m.collect_hessians(self.calib, threads=THREADS)
        self.assertEqual(len(hessians), info.n_layers * 4)
        for lin in linears:
            h = hessians[lin.hessian_index]
            self.assertEqual(h.width, lin.cols, lin)
            self.assertEqual(h.tokens, self.calib.total_tokens)
            self.assertFalse(h.asymmetric)
        stages = set()
        m.collect_hessians(self.calib[:2], threads=THREADS,
                           progress=lambda stage, *rest: stages.add(stage))
        self.assertEqual(stages, {"hessian"})
        with self.assertRaises(Error) as cm:
            m.collect_hessians(self.calib, threads=THREADS, progress=lambda *a: True)
        self.assertEqual(cm.exception.status, Status.CANCELLED)
        self.assertStatus(Status.INVALID_ARGUMENT, m.collect_hessians, [])

        # Layer-wise GPTQ with the collected statistics beats RTN on every layer of block 0, and
        # on blk.0.wq (whose input nothing quantized precedes) it is what Model.quantize does.
        results = {}
        for lin in linears[:7]:
            r = vqround.quantize(m.linear_weight(lin.index), hessians[lin.hessian_index],
                                 method="gptq", bits=4, threads=THREADS, report_loss=2)
            self.assertTrue(np.isfinite(r.proxy_loss))
            self.assertLess(r.proxy_loss, r.rtn_proxy_loss)
            results[lin.name] = r
        reports = {rep.name: rep for rep in m.quantize(self.calib, method="gptq", bits=4,
                                                       threads=THREADS)}
        wq = results["blk.0.wq"]
        self.assertAlmostEqual(reports["blk.0.wq"].proxy_loss / wq.proxy_loss, 1.0, delta=1e-4)
        np.testing.assert_allclose(m.linear_weight("blk.0.wq"), wq.dequantized, rtol=0, atol=1e-6)
        for x in list(results.values()) + hessians:
            x.close()

    # --- export, metadata, info -------------------------------------------------------------------

    def test_export_round_trips(self):
        m = self.fresh()
        m.quantize(self.calib, method="rtn", bits=4, threads=THREADS)
        want = self.nll(m)
        lines = []
        hf = os.path.join(self.tmp, "hf")
        m.export(hf, format="huggingface", log=lambda level, msg: lines.append((level, msg)))
        for level, msg in lines:
            self.assertIsInstance(level, vqround.LogLevel)
            self.assertIsInstance(msg, str)
        self.assertTrue(os.path.isfile(os.path.join(hf, "config.json")))
        with vqround.Model(hf) as back:
            self.assertEqual(back.info.format, "huggingface")
            self.assertEqual(back.info.architecture, "LlamaForCausalLM")
            self.assertTrue(back.info.rope_half_layout)  # q/k rows permuted to rotate-half
            self.assertEqual(back.info.dim, m.info.dim)
            got = self.nll(back)
        self.assertEqual(got[1], want[1])
        self.assertLess(abs(got[0] - want[0]), 1e-6 * abs(want[0]))
        hf32 = os.path.join(self.tmp, "hf32")
        m.export(hf32, format="huggingface", dtype=np.float32, shard_bytes=1 << 20)
        with vqround.Model(hf32) as back:
            got = self.nll(back)
        self.assertLess(abs(got[0] - want[0]), 1e-6 * abs(want[0]))

        l2c = os.path.join(self.tmp, "model.bin")
        m.export(l2c, format="llama2c")
        with vqround.Model(l2c, TOKENIZER_FILE) as back:
            self.assertEqual(back.info.format, "llama2c-v0")
            self.assertEqual(self.nll(back), want)  # fp32 both ways: exactly

        # Errors: the path exists, bad names, a quantized format before quantize().
        self.assertStatus(Status.INVALID_ARGUMENT, m.export, l2c, format="llama2c")
        self.assertStatus(Status.INVALID_ARGUMENT, m.export, self.tmp + "/x", format="nope")
        self.assertStatus(Status.INVALID_ARGUMENT, m.export, self.tmp + "/x", format="huggingface",
                          dtype="f64")
        self.assertStatus(Status.INVALID_ARGUMENT, m.export, self.tmp + "/x", format="huggingface",
                          log=5)
        self.assertStatus(Status.UNSUPPORTED, self.model.export, self.tmp + "/x", format="gptq")
        self.assertFalse(os.path.exists(self.tmp + "/x"))

    def test_gptq_export_round_trip(self):
        # A model quantized with fp16 scales comes back from its GPTQ checkpoint with the same
        # weights (up to the half RoPE layout's rounding), and the export logs its decisions.
        m = self.fresh()
        m.quantize(self.calib, method="gptq", bits=4, group_size=-1, scale_dtype="f16",
                   threads=THREADS)
        want = self.nll(m)
        lines = []
        out = os.path.join(self.tmp, "gptq")
        m.export(out, format="gptq", log=lambda level, msg: lines.append((level, msg)))
        self.assertTrue(lines)  # at least the checkpoint version and why
        for level, msg in lines:
            self.assertIn(level, (vqround.LogLevel.INFO, vqround.LogLevel.WARN))
            self.assertIsInstance(msg, str)
        with vqround.Model(out) as back:
            self.assertEqual(back.info.quantization, "gptq")
            got = self.nll(back)
        self.assertEqual(got[1], want[1])
        self.assertLess(abs(got[0] - want[0]), 1e-6 * abs(want[0]))
        if lines:
            # An exception raised by the log callable surfaces once export returns.
            def boom(level, msg):
                raise KeyError(msg)
            with self.assertRaises(KeyError):
                m.export(os.path.join(self.tmp, "gptq2"), log=boom)

    def test_metadata_in_vqround_json(self):
        m = self.fresh()
        m.set_metadata("calibration_file", "tinystories_val.txt")
        m.set_metadata("note", "first").set_metadata("note", "second \u00e9")
        m.set_metadata("dropped", "x").set_metadata("dropped", None)
        self.assertStatus(Status.INVALID_ARGUMENT, m.set_metadata, "", "x")
        self.assertStatus(Status.INVALID_ARGUMENT, m.set_metadata, "k", "a\0b")
        m.override("blk.0.*", bits=8)
        m.quantize(self.calib, method="rtn", bits=4, threads=THREADS)
        out = os.path.join(self.tmp, "native")
        m.export(out, format="native")
        with open(os.path.join(out, "vqround.json"), encoding="utf-8") as f:
            meta = json.load(f)
        self.assertEqual(meta["metadata"], {"calibration_file": "tinystories_val.txt",
                                            "note": "second \u00e9"})
        saved = os.path.join(self.tmp, "saved")
        m.save(saved)
        with open(os.path.join(saved, "vqround.json"), encoding="utf-8") as f:
            self.assertEqual(json.load(f)["metadata"], meta["metadata"])
        with vqround.Model(out) as back:
            info = back.info
            self.assertEqual(info.metadata_path, os.path.join(out, "vqround.json"))
            self.assertEqual(info.format, "llama2c-v0")
            self.assertEqual(self.nll(back), self.nll(m))

    def test_model_info(self):
        m = self.model
        info = m.info
        self.assertEqual(len(info), 10)  # the 0.3.0 tuple, so unpacking still works
        dim, hidden, layers, heads, kv, vocab, seq_len, shared, params, quantized = info
        self.assertEqual((dim, hidden, layers, heads, kv, vocab, seq_len), (64, 172, 5, 8, 4, 512,
                                                                          512))
        self.assertEqual(info.format, "llama2c-v0")
        self.assertEqual(info.architecture, "llama2.c")
        self.assertEqual(os.path.realpath(info.model_path), os.path.realpath(MODEL_FILE))
        self.assertEqual(os.path.realpath(info.tokenizer_path), os.path.realpath(TOKENIZER_FILE))
        self.assertIsNone(info.metadata_path)
        self.assertIsNone(info.quantization)
        self.assertEqual(info.head_dim, dim // heads)
        self.assertFalse(info.rope_half_layout)  # llama2.c: interleaved pairs
        self.assertEqual(info.rope_scaling, "none")
        self.assertEqual(info.rope_theta, 10000.0)
        self.assertAlmostEqual(info.norm_eps, 1e-5, delta=1e-10)
        self.assertEqual((info.qkv_bias, info.qk_norm, info.sliding_window), (False, False, 0))
        self.assertEqual(info.file_bytes, os.path.getsize(MODEL_FILE))
        d = info._asdict()
        self.assertEqual(list(d), list(vqround.ModelInfo.all_fields))
        self.assertEqual(d["architecture"], "llama2.c")
        self.assertIn("architecture='llama2.c'", repr(info))
        self.assertEqual(pickle.loads(pickle.dumps(info)), info)
        self.assertEqual(copy.copy(info).format, info.format)
        changed = info._replace(format="x", dim=1)
        self.assertEqual((changed.format, changed.dim, changed.architecture), ("x", 1, "llama2.c"))
        self.assertNotEqual(changed, info)
        self.assertEqual(hash(m.info), hash(info))

    def test_struct_layouts_match_library(self):
        # The library writes min(struct_size, its sizeof) and reports it in struct_size.
        info = _lib.ModelInfo()
        info.struct_size = ctypes.sizeof(info)
        self.assertEqual(_lib.lib.vqr_model_get_info(self.model._h, ctypes.byref(info)), 0)
        self.assertEqual(info.struct_size, ctypes.sizeof(_lib.ModelInfo))
        self.assertEqual(ctypes.sizeof(_lib.ModelInfo), 184)  # 56 in 0.3.0 (LP64)
        self.assertEqual(_lib.ModelInfo.file_bytes.offset, 176)
        m = self.fresh()
        m.quantize(self.calib[:1], method="rtn", bits=4, threads=THREADS)
        rec = _lib.LayerInfo()
        rec.struct_size = ctypes.sizeof(rec)
        self.assertEqual(_lib.lib.vqr_model_layer_info(m._h, 0, ctypes.byref(rec)), 0)
        self.assertEqual(rec.struct_size, ctypes.sizeof(_lib.LayerInfo))
        self.assertEqual((ctypes.sizeof(_lib.LayerInfo), _lib.LayerInfo.rows.offset), (64, 48))

    def test_names(self):
        for name, value in vqround._METHODS.items():
            self.assertEqual(vqround.method_name(value), name)
        for name, value in vqround._GRIDS.items():
            self.assertEqual(vqround.grid_name(value), name)
        for name, value in vqround._FORMATS.items():
            self.assertEqual(vqround.format_name(value), name)
        self.assertIsNone(vqround.method_name(99))
        self.assertIsNone(vqround.grid_name(-1))
        self.assertIsNone(vqround.format_name(6))
        self.assertEqual(_lib.lib.vqr_param_name(_lib.PARAM["scale_dtype"]), b"scale_dtype")

    # --- scale_dtype ------------------------------------------------------------------------------

    def test_scale_dtype_makes_scales_exact(self):
        rng = np.random.default_rng(3)
        w = rng.standard_normal((48, 128)).astype(np.float32)
        x = rng.standard_normal((512, 128)).astype(np.float32)
        b = vqround.param_bounds("scale_dtype")
        self.assertEqual((b["default"], b["is_float"]), (_lib.DTYPE_F32, False))
        with vqround.Hessian(128) as h:
            h.add(x)
            for method in ("rtn", "gptq"):
                for sym in (False, True):
                    kw = dict(method=method, bits=4, group_size=32, sym=sym, threads=THREADS)
                    with vqround.quantize(w, h, scale_dtype="f16", **kw) as r:
                        s = r.scales
                        self.assertEqual(s.shape, (4, 48))
                        np.testing.assert_array_equal(s.astype(np.float16).astype(np.float32), s)
                        # The packed fp16 scales are those very values.
                        np.testing.assert_array_equal(
                            r.pack_gptq(2)["scales"].astype(np.float32), s)
                        # Dequantized weights are computed from the rounded scales.
                        deq = s[r.g_idx, :].T * (r.codes - r.zeros[r.g_idx, :].T)
                        np.testing.assert_allclose(r.dequantized, deq, rtol=0, atol=1e-6)
                    with vqround.quantize(w, h, scale_dtype=np.float16, **kw) as r16, \
                            vqround.quantize(w, h, **kw) as r32:
                        np.testing.assert_array_equal(r16.scales, s)
                        # Without it the scales are plain fp32 values.
                        self.assertFalse(np.array_equal(
                            r32.scales.astype(np.float16).astype(np.float32), r32.scales))
            with vqround.quantize(w, h, method="rtn", bits=4, group_size=32,
                                  scale_dtype="bf16") as r:
                self.assertTrue(np.all(r.scales.view(np.uint32) & 0xFFFF == 0))
        self.assertStatus(Status.INVALID_ARGUMENT, vqround.quantize, w, scale_dtype="f64")
        self.assertStatus(Status.INVALID_ARGUMENT, vqround.quantize, w, scale_dtype=None)
        # Whole models take it too.
        m = self.fresh()
        m.quantize(self.calib, method="rtn", bits=4, group_size=4, scale_dtype="f16",
                   threads=THREADS)
        self.assertEqual(m.info.quantized_layers, 35)


if __name__ == "__main__":
    unittest.main()
