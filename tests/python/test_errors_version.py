"""Errors surface as vqround.Error with a status and a non-empty message; version and build info
come from the library; the binding's struct layouts agree with the library's (struct_size)."""
import ctypes
import unittest

import numpy as np

import vqround
from vqround import _lib

W = np.random.default_rng(0).standard_normal((8, 32)).astype(np.float32)


class ErrorTest(unittest.TestCase):
    def assert_error(self, status, fn, *args, **kwargs):
        with self.assertRaises(vqround.Error) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertIsInstance(e, Exception)
        self.assertEqual(e.status, status, str(e))
        self.assertEqual(e.status_name, status.name)
        self.assertTrue(e.message.strip(), "empty message")
        self.assertIn(e.message, str(e))
        return e

    def test_shapes(self):
        I = vqround.Status.INVALID_ARGUMENT
        self.assert_error(I, vqround.quantize, W[0])
        self.assert_error(I, vqround.quantize, W[None])
        with vqround.Hessian(31) as h:
            h.add(np.ones((4, 31), np.float32))
            self.assert_error(I, vqround.quantize, W, h)

    def test_nonfinite_weights(self):
        for bad in (np.nan, np.inf, -np.inf):
            w = W.copy()
            w[3, 17] = bad
            self.assert_error(vqround.Status.NONFINITE, vqround.quantize, w)

    def test_parameter_ranges(self):
        R = vqround.Status.OUT_OF_RANGE
        self.assert_error(R, vqround.quantize, W, bits=9)
        self.assert_error(R, vqround.quantize, W, bits=1)
        self.assert_error(R, vqround.quantize, W, group_size=0)
        self.assert_error(R, vqround.quantize, W, group_size=-2)
        self.assert_error(R, vqround.quantize, W, damp=-1.0)
        self.assert_error(R, vqround.quantize, W, damp=float("nan"))
        self.assert_error(R, vqround.quantize, W, block_size=0)
        self.assert_error(R, vqround.quantize, W, threads=-1)
        self.assert_error(vqround.Status.INVALID_ARGUMENT, vqround.quantize, W, method="awq")
        self.assert_error(vqround.Status.INVALID_ARGUMENT, vqround.quantize, W, grid="nf4")

    def test_error_is_catchable_and_library_stays_usable(self):
        try:
            vqround.quantize(W, bits=9)
        except Exception as e:  # noqa: BLE001 - the point is that it is a plain Exception
            self.assertIsInstance(e, vqround.Error)
        self.assertEqual(vqround.quantize(W, bits=4).codes.shape, W.shape)


class VersionTest(unittest.TestCase):
    def test_version(self):
        self.assertRegex(vqround.__version__, r"^\d+\.\d+\.\d+$")
        self.assertEqual(vqround.version(), vqround.__version__)
        major, minor, patch = map(int, vqround.__version__.split("."))
        self.assertEqual(_lib.lib.vqr_version_number(), major * 10000 + minor * 100 + patch)
        info = vqround.build_info()
        self.assertIsInstance(info, str)
        self.assertTrue(info.strip())

    def test_param_bounds_match_header(self):
        b = vqround.param_bounds("bits")
        self.assertEqual((b["lower"], b["upper"], b["default"], b["is_float"]), (2, 8, 4, False))
        self.assertTrue(vqround.param_bounds("damp")["is_float"])
        self.assertAlmostEqual(vqround.param_bounds("damp")["default"], 0.01)
        with self.assertRaises(vqround.Error):
            vqround.param_bounds("nonsense")

    def test_struct_layouts_match_library(self):
        # The caller sets struct_size (the binding's structs do on creation) and the library
        # stores the bytes it wrote, min(its sizeof, ours): a layout drift between the header and
        # _lib.py shows up here.
        b = _lib.Bounds()
        self.assertEqual(_lib.lib.vqr_param_bounds(200, ctypes.byref(b)), 0)
        self.assertEqual(b.struct_size, ctypes.sizeof(_lib.Bounds))
        with vqround.quantize(W) as r:
            s = _lib.PackedShape()
            self.assertEqual(_lib.lib.vqr_result_packed_shape(r._h, 2, ctypes.byref(s)), 0)
            self.assertEqual(s.struct_size, ctypes.sizeof(_lib.PackedShape))
        self.assertEqual(ctypes.sizeof(_lib.Tensor), 40)  # frozen layout on LP64
        self.assertEqual(ctypes.sizeof(_lib.Report), 168)  # 72 in 0.1.0, 104 in 0.2.0, + the 0.3.0 fields

    def _write_into(self, call, struct_type, struct_size, extra=16):
        """Calls `call(pointer)` on a buffer of sizeof(struct_type) + extra bytes, all 0xA5 except
        a struct_size of `struct_size`; returns (status, the buffer's bytes)."""
        n = ctypes.sizeof(struct_type) + extra
        buf = (ctypes.c_ubyte * n)(*([0xA5] * n))
        ctypes.c_size_t.from_buffer(buf).value = struct_size
        status = call(ctypes.cast(buf, ctypes.POINTER(struct_type)))
        return status, bytes(buf)

    def _check_struct_size_rule(self, call, struct_type, prefix_field):
        full = ctypes.sizeof(struct_type)
        guard = b"\xa5"
        # An older, shorter struct (up to prefix_field): its prefix only, nothing after it.
        prefix = getattr(struct_type, prefix_field).offset
        status, raw = self._write_into(call, struct_type, prefix)
        self.assertEqual(status, 0)
        self.assertEqual(ctypes.c_size_t.from_buffer_copy(raw).value, prefix)
        self.assertEqual(raw[prefix:], guard * (len(raw) - prefix))
        # struct_size 0, a zero-initialized struct of a 0.4 caller: the 0.4 layout, all of today's.
        status, raw0 = self._write_into(call, struct_type, 0)
        self.assertEqual(status, 0)
        self.assertEqual(ctypes.c_size_t.from_buffer_copy(raw0).value, full)
        self.assertEqual(raw0[full:], guard * (len(raw0) - full))
        # A newer, longer struct: what the library has, the rest untouched.
        status, rawn = self._write_into(call, struct_type, full + 16)
        self.assertEqual(status, 0)
        self.assertEqual(rawn, raw0)
        self.assertEqual(raw[ctypes.sizeof(ctypes.c_size_t):prefix],
                         raw0[ctypes.sizeof(ctypes.c_size_t):prefix])
        # Too small to hold struct_size itself: refused, nothing written.
        status, rawbad = self._write_into(call, struct_type, 3)
        self.assertEqual(status, vqround.Status.INVALID_ARGUMENT)
        self.assertEqual(ctypes.c_size_t.from_buffer_copy(rawbad).value, 3)
        z = ctypes.sizeof(ctypes.c_size_t)
        self.assertEqual(rawbad[z:], guard * (len(rawbad) - z))

    def test_bounds_follow_the_struct_size_rule(self):
        damp = _lib.PARAM["damp"]
        self._check_struct_size_rule(lambda p: _lib.lib.vqr_param_bounds(damp, p), _lib.Bounds, "lower")

    def test_packed_shape_follows_the_struct_size_rule(self):
        with vqround.quantize(W) as r:
            self._check_struct_size_rule(lambda p: _lib.lib.vqr_result_packed_shape(r._h, 2, p),
                                         _lib.PackedShape, "qzeros_rows")


class NullHandleTest(unittest.TestCase):
    """The header's one rule: getters return what an empty object would (0, NULL); calls that
    return a status refuse with VQR_ERR_INVALID_ARGUMENT."""

    def test_getters_return_empty_values(self):
        L = _lib.lib
        self.assertEqual(L.vqr_context_get_threads(None), 0)
        self.assertEqual(L.vqr_hessian_width(None), 0)
        self.assertEqual(L.vqr_hessian_token_count(None), 0)
        self.assertEqual(L.vqr_hessian_flags(None), 0)
        self.assertEqual(L.vqr_model_layer_count(None), 0)
        self.assertEqual(L.vqr_model_linear_count(None), 0)
        self.assertEqual(L.vqr_sequences_count(None), 0)

    def test_status_calls_refuse(self):
        size = ctypes.c_size_t(7)
        self.assertEqual(_lib.lib.vqr_hessian_serialized_size(None, ctypes.byref(size)),
                         vqround.Status.INVALID_ARGUMENT)
        self.assertEqual(size.value, 7)


if __name__ == "__main__":
    unittest.main()
