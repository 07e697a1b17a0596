"""The 0.5.0 additions of the binding for calibration at scale: vqround.method_info (the library's
method facts, checked against the header's statements and against what quantize() refuses),
Model.quantize's calib_dtype / max_memory / spill_dir keywords (checked and handed to the
library), Model.quantize_stats, and the phase stages a progress callable sees. The model part runs
on stories260K and is skipped without the shared data folder, unless VQR_REQUIRE_DATA=1.
"""
import ctypes
import math
import os
import tempfile
import unittest

import numpy as np

from shared_data import MODEL_FILE, require_stories260k
import vqround
from vqround import Error, Status, _lib

# What vqround.h says of each method (vqr_method, VQR_PARAM_STEPS, _ALPHA, _ALPHA2, _OUTER).
EXPECTED = {
    "rtn": dict(is_sweep=False, is_learned=False, needs_hessian=False, needs_asymmetric=False),
    "gptq": dict(is_sweep=True, needs_hessian=True, needs_asymmetric=False, needs_fp_stream=False,
                 accepts_exact_target=True),
    "gptaq": dict(is_sweep=True, needs_asymmetric=True, needs_fp_stream=True, preset_alpha=0.25,
                  preset_alpha2=0.0, preset_outer="quantized"),
    "rescomp": dict(is_sweep=True, needs_asymmetric=True, needs_fp_stream=True, preset_alpha=0.25,
                    preset_alpha2=0.25, preset_outer="prequant_clamped",
                    preset_outer_2_bits="quantized"),
    "gptaq_paper": dict(needs_asymmetric=True, preset_alpha=1.0, preset_outer="prequant"),
    "adaround": dict(is_learned=True, preset_steps=10000, preset_lr=1e-3, accepts_gptq_init=True),
    "autoround": dict(is_learned=True, preset_steps=200, needs_fp_stream=True,
                      needs_asymmetric=False, accepts_gptq_init=False),
    "vqround": dict(is_learned=True, preset_steps=5000, preset_lr=1e-2, accepts_gptq_init=True),
    "loraround": dict(is_learned=True, preset_steps=1000, preset_lr=1e-2),
}


class MethodInfoTest(unittest.TestCase):
    def test_facts_match_the_header(self):
        for name, facts in EXPECTED.items():
            info = vqround.method_info(name)
            self.assertEqual(info.name, name)
            for key, value in facts.items():
                self.assertEqual(getattr(info, key), value, f"{name}.{key}")

    def test_number_and_name_agree(self):
        for number in range(len(EXPECTED)):
            info = vqround.method_info(number)
            self.assertEqual(info, vqround.method_info(info.name))
            self.assertEqual(info.name, vqround.method_name(number))

    def test_facts_are_what_quantize_enforces(self):
        rng = np.random.default_rng(0)
        w = rng.standard_normal((8, 16)).astype(np.float32)
        x = rng.standard_normal((64, 16)).astype(np.float32)
        with vqround.Hessian(16) as sym, vqround.Hessian(16, asymmetric=True) as asym:
            sym.add(x)
            asym.add(x, x)
            for name in EXPECTED:
                info = vqround.method_info(name)
                steps = 0 if info.is_learned else None
                if info.needs_hessian:
                    with self.assertRaises(Error) as e:
                        vqround.quantize(w, None, method=name, steps=steps)
                    self.assertEqual(e.exception.status, Status.INVALID_ARGUMENT)
                if info.needs_asymmetric:
                    with self.assertRaises(Error) as e:
                        vqround.quantize(w, sym, method=name, steps=steps)
                    self.assertEqual(e.exception.status, Status.INVALID_ARGUMENT)
                    vqround.quantize(w, asym, method=name, steps=steps).close()
                else:
                    vqround.quantize(w, sym, method=name, steps=steps).close()

    def test_unknown_methods(self):
        with self.assertRaises(Error) as e:
            vqround.method_info("nosuch")
        self.assertEqual(e.exception.status, Status.INVALID_ARGUMENT)
        with self.assertRaises(Error) as e:
            vqround.method_info(99)
        self.assertEqual(e.exception.status, Status.UNSUPPORTED)
        with self.assertRaises(Error) as e:
            vqround.method_info(1.0)
        self.assertEqual(e.exception.status, Status.INVALID_ARGUMENT)


class ProgressLayoutTest(unittest.TestCase):
    def test_library_progress_struct_is_the_bindings(self):
        """The library's vqr_progress (with seconds since 0.5.0) has the binding's size, and stages
        other than the phases carry seconds NaN."""
        seen = []

        @_lib.PROGRESS_FN
        def callback(_user, p):
            seen.append((p.contents.struct_size, p.contents.stage, p.contents.seconds))
            return 0

        lib = _lib.lib
        ctx, cfg, res = ctypes.c_void_p(), ctypes.c_void_p(), ctypes.c_void_p()
        self.assertEqual(lib.vqr_context_create(ctypes.byref(ctx)), 0)
        try:
            self.assertEqual(lib.vqr_context_set_progress(ctx, callback, None), 0)
            self.assertEqual(lib.vqr_config_create(ctypes.byref(cfg)), 0)
            w = np.ones((4, 8), dtype=np.float32)
            t = _lib.Tensor(w.ctypes.data, _lib.DTYPE_F32, 4, 8, 0)
            self.assertEqual(lib.vqr_quantize_layer(ctx, cfg, ctypes.byref(t), None,
                                                    ctypes.byref(res)), 0)
        finally:
            lib.vqr_result_free(res)
            lib.vqr_config_free(cfg)
            lib.vqr_context_free(ctx)
        self.assertTrue(seen)
        for size, stage, seconds in seen:
            self.assertEqual(size, ctypes.sizeof(_lib.Progress))
            self.assertTrue(math.isnan(seconds), (stage, seconds))


class CalibrationKeywordsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        require_stories260k()
        cls.model = vqround.Model(MODEL_FILE)
        ids = (np.arange(4 * 64) * 7919) % (cls.model.info.vocab_size - 2) + 2
        ids[::64] = 1  # BOS first in each sequence
        cls.calib = ids.astype(np.int32).reshape(4, 64)

    @classmethod
    def tearDownClass(cls):
        cls.model.close()

    def test_stats_before_quantize_are_zero(self):
        with vqround.Model(MODEL_FILE) as m:
            st = m.quantize_stats()
        self.assertEqual(st, vqround.QuantizeStats(0.0, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, "f32", 0))

    def test_bad_keywords_are_refused_before_any_work(self):
        m = self.model
        cases = [(dict(calib_dtype="f64"), Status.INVALID_ARGUMENT),
                 (dict(max_memory=-1), Status.OUT_OF_RANGE),
                 (dict(max_memory=1.5), Status.INVALID_ARGUMENT),
                 (dict(spill_dir="/nonexistent/vqr-spill"), Status.INVALID_ARGUMENT)]
        for kwargs, status in cases:
            with self.assertRaises(Error) as e:
                m.quantize(self.calib, method="rtn", threads=1, **kwargs)
            self.assertEqual(e.exception.status, status, kwargs)

    def test_settings_reach_the_run_and_phases_reach_progress(self):
        seen = []
        with tempfile.TemporaryDirectory() as spill:
            self.model.quantize(self.calib, method="gptq", bits=4, threads=1, calib_dtype="bf16",
                                max_memory=4096, spill_dir=spill,
                                progress=lambda *a: seen.append(a))
            self.assertEqual(os.listdir(spill), [], "the spill file outlived the run")
        st = self.model.quantize_stats()
        info = self.model.info
        self.assertEqual((st.sequences, st.tokens), (4, 4 * 64))
        self.assertEqual((st.calib_dtype, st.max_memory_bytes), ("bf16", 4096))
        phases = st.load_seconds + st.forward_seconds + st.hessian_seconds + st.sweep_seconds
        self.assertGreater(st.seconds, 0)
        self.assertLessEqual(phases, st.seconds * (1 + 1e-9) + 1e-9)
        # Both streams in bf16 at most.
        self.assertTrue(0 <= st.peak_hidden_bytes <= 4 * 64 * info.dim * 2 * 2)
        phase_reports = [a for a in seen if a[0] in ("load", "forward", "hessian", "sweep")]
        for stage, done, total, seconds in phase_reports:
            self.assertEqual(total, info.n_layers)
            self.assertTrue(1 <= done <= total)
            self.assertTrue(seconds >= 0 and math.isfinite(seconds), (stage, seconds))
        self.assertTrue(not phase_reports or {a[1] for a in phase_reports} == set(range(1, info.n_layers + 1)))
        self.assertTrue(any(a[0] == "model" for a in seen))
        # Each call applies its own keywords: the defaults again.
        self.model.quantize(self.calib, method="rtn", threads=1)
        st = self.model.quantize_stats()
        self.assertEqual((st.calib_dtype, st.max_memory_bytes), ("f32", 0))


if __name__ == "__main__":
    unittest.main()
