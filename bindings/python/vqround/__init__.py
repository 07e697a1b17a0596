"""vqround: Python (ctypes + numpy) binding of libvqround, post-training weight quantization.

    import numpy as np, vqround
    with vqround.Hessian(n) as h:
        h.add(x)                                   # x: T x n calibration inputs of the layer
        r = vqround.quantize(w, h, method="gptq", bits=4, group_size=128)
    packed = vqround.pack_gptq(r, version=1)       # qweight, qzeros, scales, g_idx
    r.close()

GPTAQ / ResComp (asymmetric calibration, spec gptq §2, §3, §9) need the layer's inputs from both
streams, the same tokens in the same order:

    with vqround.Hessian(n, asymmetric=True) as h:
        h.add(x_q, x_fp)                           # x_q: quantized model, x_fp: full precision
        r = vqround.quantize(w, h, method="gptaq", bits=4)   # or "rescomp", "gptaq_paper"
        print(r.asym_loss, r.alpha, r.alpha2, r.outer)

Learned rounding (AdaRound, AutoRound, VQRound, LoRA-rounding; spec learned_rounding, spec vqround)
trains the rounding decisions against the layer objective tr(dW H dW^T) and returns ordinary codes:

    def show(stage, done, total, loss):            # loss: NaN for stages without an objective
        print(f"{stage} {done}/{total} {loss:.4g}")   # return True to cancel (Error CANCELLED)
    r = vqround.quantize(w, h, method="vqround", bits=3, group_size=128, steps=2000,
                         init="gptq", codebook_size=1024, seed=1, progress=show)
    print(r.init_proxy_loss, r.proxy_loss, r.trainable_params, r.best_step)
    curve = r.loss_history                         # one float64 per step

Whole models (llama2.c checkpoints, LLaMA family): load, quantize every linear layer block by
block on calibration token sequences, measure the NLL, save a folder that Model() loads back:

    with vqround.Model("stories260K.bin") as m:   # tokenizer: tok*.bin beside it, or tokenizer=
        calib = [m.tokenize(p)[:128] for p in paragraphs[:8]]
        reports = m.quantize(calib, method="gptq", bits=4)     # quantize()'s keywords
        print(reports[0].name, reports[0].proxy_loss)          # "blk.0.wq" ...
        nll, n = m.eval_nll([m.tokenize(p)[:m.info.seq_len] for p in heldout])
        print(math.exp(nll / n))                               # perplexity
        m.save("stories260K-gptq4")                            # a new folder

Since 0.4.0: calibration and evaluation sets built by the library's protocols (spec gptq_family
§5), per-layer rules, layer-wise access, and checkpoint formats:

    with vqround.Model("stories260K.bin") as m:
        calib = m.sequences_from_file("train.txt", sampling="random_windows", count=128,
                                      length=256, seed=0)       # a vqround.Sequences
        heldout = m.sequences_from_file("val.txt", sampling="windows", length=256)
        m.override("blk.0.*", bits=8).skip("*.w2")           # per-layer rules (fnmatch)
        m.quantize(calib, method="gptq", bits=4, group_size=32, scale_dtype="f16")
        print([(i.name, i.bits, i.skipped) for i in m.layer_infos()])
        m.set_metadata("calibration_file", "train.txt")        # -> vqround.json "metadata"
        m.export("out-gptq", format="gptq", log=lambda level, msg: print(level.name, msg))

Layer-wise work on the model's own weights and statistics:

        hessians = m.collect_hessians(calib)                   # n_layers * 4 Hessian objects
        for lin in m.linears():                                # LinearInfo records
            r = vqround.quantize(m.linear_weight(lin.index), hessians[lin.hessian_index],
                                 method="gptq", bits=4)

Since 0.5.0: method facts and calibration at scale:

    vqround.method_info("gptaq").needs_fp_stream           # True: a MethodFacts
    m.quantize(calib, method="gptq", bits=4, calib_dtype="bf16", max_memory=8 << 30,
               progress=lambda stage, done, total, value: print(stage, done, total, value))
    print(m.quantize_stats())                              # seconds per phase, peak hidden bytes

Since 0.5.0: OpenCL backends. backend="cpu" (default), "opencl" or "auto" with device=None or
"D" / "P:D" (index or name substring; None = $VQR_OPENCL_PLATFORM / $VQR_OPENCL_DEVICE) on
Hessian(), quantize() and Model(); a Model keeps its backend for all its calls. "opencl" without a
usable device raises Error(UNSUPPORTED) with the library's reason, "auto" without a GPU computes on
the CPU; an unknown backend raises ValueError. A Model's forward passes (evaluation, calibration)
and the quantizers' products run on the backend.

    print([(d["index"], d["name"], d["type"]) for d in vqround.devices()])
    h = vqround.Hessian(n, backend="opencl", device="0")   # additions on the device
    r = vqround.quantize(w, h, method="gptq", bits=4, backend="opencl")
    with vqround.Model("stories260K.bin", backend="auto") as m:
        print(m.backend)                       # "opencl: OpenCL <device> (...)" or "cpu: ..."

Ownership: Hessian, Result and Model own a native handle, freed by close(), by leaving a `with`
block, or (as a safety net) by the garbage collector. Result copies every array out of the native
object when it is created, so its arrays stay valid after close(); the handle is kept open only for
pack_gptq(). Model.quantize returns plain LayerReport objects; Sequences, LayerInfo and
LinearInfo are plain Python objects too (Model.linear_weight returns a copy). Library errors raise
vqround.Error. Thread safety follows the C API: distinct objects may be used from different
threads; one object by one thread at a time. Long calls release the GIL.
The library is located by vqround._lib.load() ($VQROUND_LIBRARY overrides).
"""
import collections
import ctypes
import enum
import inspect
import math
import os

import numpy as np

from . import _lib
from ._lib import lib

__all__ = ["Error", "Status", "Hessian", "Result", "quantize", "pack_gptq", "Model", "ModelInfo",
           "LayerReport", "version", "build_info", "param_bounds", "__version__",
           # since 0.4.0
           "Sequences", "LayerInfo", "LinearInfo", "LogLevel", "method_name", "grid_name",
           "format_name",
           # since 0.5.0
           "method_info", "MethodFacts", "QuantizeStats", "DistillStats", "devices"]


class Status(enum.IntEnum):
    """vqr_status codes (stable numbers from vqround.h)."""
    OK = 0
    INVALID_ARGUMENT = -1
    UNSUPPORTED = -2
    OUT_OF_RANGE = -3
    NONFINITE = -4
    NUMERICAL = -5
    CORRUPT = -6
    BUFFER_TOO_SMALL = -7
    OUT_OF_MEMORY = -8
    CANCELLED = -9
    IO = -10
    INTERNAL = -11
    FORMAT = -12


class LogLevel(enum.IntEnum):
    """vqr_log_level: the severity a log callable receives (Model.export's log=)."""
    DEBUG = 0
    INFO = 1
    WARN = 2
    ERROR = 3


class Error(Exception):
    """A failed libvqround call. `.status` is a Status (an int; a plain int for codes this binding
    does not know), `.status_name` its name ("CORRUPT"), `.message` the library's message."""

    def __init__(self, status, message):
        try:
            self.status = Status(status)
            self.status_name = self.status.name
        except ValueError:
            self.status = int(status)
            self.status_name = "UNKNOWN"
        self.message = message
        super().__init__(f"{message} [{self.status_name}]")


def _check(status):
    """Raises Error with vqr_last_error() when a call returned a non-OK status."""
    if status != 0:
        msg = (lib.vqr_last_error() or b"").decode("utf-8", "replace")
        if not msg:
            msg = lib.vqr_status_string(status).decode("utf-8", "replace")
        raise Error(status, msg)


def _invalid(message):
    return Error(Status.INVALID_ARGUMENT, message)


def version():
    """The library's version string, e.g. "0.1.0" (vqr_version_string)."""
    return lib.vqr_version_string().decode()


def build_info():
    """One line describing how the library was built (vqr_build_info)."""
    return lib.vqr_build_info().decode("utf-8", "replace")


__version__ = version()


def param_bounds(name):
    """Bounds of a configuration parameter by name ("bits", "damp", ...): a dict with lower,
    upper, default and is_float, as vqr_param_bounds reports them."""
    if name not in _lib.PARAM:
        raise _invalid(f"unknown parameter {name!r}; known: {', '.join(_lib.PARAM)}")
    b = _lib.Bounds()
    _check(lib.vqr_param_bounds(_lib.PARAM[name], ctypes.byref(b)))
    return {"lower": b.lower, "upper": b.upper, "default": b.default_value,
            "is_float": bool(b.is_float)}


def _name_or_none(ptr):
    return None if ptr is None else ptr.decode("utf-8", "replace")


def method_name(method):
    """The library's short name of a vqr_method number ("rtn", "gptq", ...), or None for an
    unknown one (vqr_method_name). Since 0.4.0."""
    return _name_or_none(lib.vqr_method_name(int(method)))


def grid_name(grid):
    """The library's short name of a vqr_grid number ("gptq", "quarot", "full_range"), or None
    (vqr_grid_name). Since 0.4.0."""
    return _name_or_none(lib.vqr_grid_name(int(grid)))


def format_name(fmt):
    """The library's name of a vqr_format number ("native", "huggingface", "llama2c", "gptq",
    "compressed-tensors", "gguf"), or None (vqr_format_name). Since 0.4.0."""
    return _name_or_none(lib.vqr_format_name(int(fmt)))


MethodFacts = collections.namedtuple("MethodFacts", [
    "name", "stage", "is_sweep", "is_learned", "needs_hessian", "needs_asymmetric",
    "needs_fp_stream", "accepts_exact_target", "accepts_gptq_init", "preset_steps", "preset_lr",
    "preset_warmup", "preset_alpha", "preset_alpha2", "preset_outer", "preset_outer_2_bits"])
MethodFacts.__doc__ = """What a method needs and its presets (vqr_method_facts): name, stage (its
progress stage), is_sweep (the GPTQ-family sweep), is_learned (learned rounding), needs_hessian,
needs_asymmetric (a Hessian with D: Hessian(n, asymmetric=True)), needs_fp_stream (Model.quantize
runs the full-precision stream for it), accepts_exact_target, accepts_gptq_init (booleans);
preset_steps, preset_lr (0 for AutoRound, whose rate is 1/steps), preset_warmup, preset_alpha,
preset_alpha2 and preset_outer / preset_outer_2_bits ("quantized", "prequant",
"prequant_clamped"): what the keywords' None selects. Since 0.5.0."""


def method_info(method):
    """The facts of a method, by name ("gptq", ...) or vqr_method number: a MethodFacts
    (vqr_method_info). Error(INVALID_ARGUMENT) for an unknown name, UNSUPPORTED for an unknown
    number. Since 0.5.0."""
    if isinstance(method, str):
        method = _choice("method", method, _METHODS)
    elif isinstance(method, bool) or not isinstance(method, (int, np.integer)):
        raise _invalid(f"method must be a name or a vqr_method number; got {method!r}")
    f = _lib.MethodFacts()
    _check(lib.vqr_method_info(int(method), ctypes.byref(f)))
    outer = _OUTER_NAMES.get
    return MethodFacts(_name_or_none(f.name), _name_or_none(f.stage), bool(f.is_sweep),
                       bool(f.is_learned), bool(f.needs_hessian), bool(f.needs_asymmetric),
                       bool(f.needs_fp_stream), bool(f.accepts_exact_target),
                       bool(f.accepts_gptq_init), int(f.preset_steps), float(f.preset_lr),
                       float(f.preset_warmup), float(f.preset_alpha), float(f.preset_alpha2),
                       outer(f.preset_outer, int(f.preset_outer)),
                       outer(f.preset_outer_2_bits, int(f.preset_outer_2_bits)))


# --- backends, since 0.5.0 ------------------------------------------------------------------------

_BACKENDS = {"cpu": _lib.BACKEND_CPU, "opencl": _lib.BACKEND_OPENCL, "auto": _lib.BACKEND_AUTO}


class _BadBackendArgument(Error, ValueError):
    """An unknown backend name or a misplaced device: both a ValueError, as Python code expects for
    a bad argument value, and a vqround.Error(INVALID_ARGUMENT), like the binding's other bad
    names."""

    def __init__(self, message):
        super().__init__(Status.INVALID_ARGUMENT, message)


def _backend_choice(backend, device):
    """(vqr_backend, device bytes or None) from the backend= and device= keywords; ValueError for
    an unknown backend, a device that is not a str, or a device with backend "cpu"."""
    if not isinstance(backend, str) or backend not in _BACKENDS:
        raise _BadBackendArgument("backend must be one of 'cpu', 'opencl', 'auto'; "
                                  f"got {backend!r}")
    if device is not None and not isinstance(device, str):
        raise _BadBackendArgument(f"device must be None or a str (\"D\" or \"P:D\"); "
                                  f"got {device!r}")
    if backend == "cpu" and device:
        # The CPU backend has no device: silently ignoring one would hide a forgotten backend=.
        raise _BadBackendArgument(f"device {device!r} applies to backend 'opencl' or 'auto', "
                                  "not 'cpu'")
    return _BACKENDS[backend], (None if device is None else device.encode("utf-8"))


def _set_backend(ctx, choice):
    """vqr_context_set_backend with a _backend_choice; Error(UNSUPPORTED) with the library's reason
    when backend "opencl" finds no usable device."""
    if choice[0] != _lib.BACKEND_CPU:
        _check(lib.vqr_context_set_backend(ctx, choice[0], choice[1]))


def devices():
    """The OpenCL devices the library sees, in the order device specs count them (vqr_device_get):
    a list of dicts with keys index, platform, device (its index within the platform),
    platform_name, name, vendor, version, type ("gpu", "cpu", "accelerator" or "other"),
    global_mem_bytes, max_alloc_bytes, compute_units, max_clock_mhz and fp64 (bool). Empty when
    there is no OpenCL driver or device (build_info() then says why). Pass device=str(d["index"])
    with backend="opencl" to pick one. Since 0.5.0."""
    out = []
    for i in range(int(lib.vqr_device_count())):
        d = _lib.DeviceInfo()
        _check(lib.vqr_device_get(i, ctypes.byref(d)))
        text = lambda b: b.decode("utf-8", "replace")  # noqa: E731
        out.append({"index": int(d.index), "platform": int(d.platform), "device": int(d.device),
                    "platform_name": text(d.platform_name), "name": text(d.name),
                    "vendor": text(d.vendor), "version": text(d.version), "type": text(d.type),
                    "global_mem_bytes": int(d.global_mem_bytes),
                    "max_alloc_bytes": int(d.max_alloc_bytes),
                    "compute_units": int(d.compute_units), "max_clock_mhz": int(d.max_clock_mhz),
                    "fp64": bool(d.fp64)})
    return out


def _tensor(a, name):
    """A vqr_tensor view of a 2-D array: float32/float16 passed as is, other dtypes converted to
    float32; a row stride is passed when the last axis is contiguous, otherwise the array is
    copied. Returns (array to keep alive during the call, Tensor)."""
    a = np.asarray(a)
    if a.ndim != 2:
        raise _invalid(f"{name} must be a 2-D array, got shape {a.shape}")
    if a.dtype == np.float16:
        dtype = _lib.DTYPE_F16
    elif a.dtype == np.float32:
        dtype = _lib.DTYPE_F32
    else:
        a, dtype = a.astype(np.float32), _lib.DTYPE_F32
    rows, cols = a.shape
    item = a.itemsize
    s0, s1 = a.strides
    if (cols > 1 and s1 != item) or (rows > 1 and (s0 % item != 0 or s0 < cols * item)):
        a = np.ascontiguousarray(a)
        s0 = cols * item
    stride = s0 // item if rows > 1 else 0
    return a, _lib.Tensor(a.ctypes.data, dtype, rows, cols, stride)


class _Handle:
    """Owns one native handle; subclasses set _free to the vqr_X_free function."""
    _h = None
    _free = None

    def _handle(self):
        if not self._h:
            raise _invalid(f"{type(self).__name__} is closed")
        return self._h

    def close(self):
        """Frees the native object now; further calls that need it raise Error. Idempotent."""
        h, self._h = self._h, None
        if h and lib is not None:
            type(self)._free(h)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown: module globals may already be gone
            pass


class Hessian(_Handle):
    """Streaming accumulator of H = (2/T) sum_t x_t x_t^T for a layer with input width n
    (vqr_hessian). f64=True accumulates in float64 (VQR_HESSIAN_F64). asymmetric=True
    (VQR_HESSIAN_ASYMMETRIC) also accumulates D = (2/T) sum_t (x_fp,t - x_q,t) x_q,t^T from paired
    batches, for methods "gptaq", "rescomp", "gptaq_paper" and exact_target; H then comes from the
    quantized stream x_q.

    backend (since 0.5.0): where add() accumulates, "cpu" (default), "opencl" or "auto"
    (vqr_hessian_create_on); device: None (VQR_OPENCL_PLATFORM / VQR_OPENCL_DEVICE, else the first
    GPU, else for "opencl" the first device) or a spec "D" / "P:D" (index or name substring, see
    devices()). An unknown backend raises ValueError; "opencl" without a usable device raises
    Error(UNSUPPORTED) with the library's reason; "auto" without a GPU accumulates on the CPU. The
    two agree to the rounding of a reordered fp32 sum."""
    _free = staticmethod(lib.vqr_hessian_free)

    def __init__(self, n, f64=False, asymmetric=False, *, backend="cpu", device=None,
                 _handle=None):
        if _handle is None:
            choice = _backend_choice(backend, device)
            flags = (_lib.HESSIAN_F64 if f64 else 0) | (_lib.HESSIAN_ASYMMETRIC if asymmetric else 0)
            _handle = ctypes.c_void_p()
            if choice[0] == _lib.BACKEND_CPU:
                _check(lib.vqr_hessian_create(int(n), flags, ctypes.byref(_handle)))
            else:
                # The accumulator keeps the backend, not the context: the context lives for
                # this call only.
                ctx = _new_context(None, 0, None, backend=choice)
                try:
                    _check(lib.vqr_hessian_create_on(ctx, int(n), flags, ctypes.byref(_handle)))
                finally:
                    lib.vqr_context_free(ctx)
        self._h = _handle.value if isinstance(_handle, ctypes.c_void_p) else _handle

    def add(self, x_q, x_fp=None):
        """Adds a batch of tokens x_q (T x n). float32 and float16 are read natively, other dtypes
        are converted to float32; strided rows are read in place. A batch with NaN/Inf raises
        Error(NONFINITE) and leaves the accumulator unchanged. Returns self.

        x_fp (T x n, same tokens in the same order through the full-precision model) adds the pair
        (vqr_hessian_add_pair): H gains x_q x_q^T and D gains (x_fp - x_q) x_q^T. It needs an
        asymmetric accumulator and the same shape as x_q, else Error(INVALID_ARGUMENT); a NaN/Inf
        in either rejects the pair. Without x_fp, an asymmetric accumulator takes x_fp = x_q
        (D gains nothing)."""
        keep, t = _tensor(x_q, "x_q")
        if x_fp is None:
            _check(lib.vqr_hessian_add(self._handle(), ctypes.byref(t)))
        else:
            keep_fp, t_fp = _tensor(x_fp, "x_fp")
            _check(lib.vqr_hessian_add_pair(self._handle(), ctypes.byref(t), ctypes.byref(t_fp)))
            del keep_fp
        del keep
        return self

    def merge(self, other):
        """Adds other's sums and token count into self (same width and flags). Returns self."""
        if not isinstance(other, Hessian):
            raise _invalid("merge expects a Hessian")
        _check(lib.vqr_hessian_merge(self._handle(), other._handle()))
        return self

    @property
    def width(self):
        """The input width n."""
        return int(lib.vqr_hessian_width(self._handle()))

    @property
    def tokens(self):
        """The number of tokens accumulated (T)."""
        return int(lib.vqr_hessian_token_count(self._handle()))

    @property
    def asymmetric(self):
        """True when the accumulator also keeps D (created with asymmetric=True, or restored from
        such bytes)."""
        return bool(lib.vqr_hessian_flags(self._handle()) & _lib.HESSIAN_ASYMMETRIC)

    @property
    def f64(self):
        """True when the accumulator sums in float64."""
        return bool(lib.vqr_hessian_flags(self._handle()) & _lib.HESSIAN_F64)

    def matrix(self):
        """H = (2/T) S as a float32 n x n numpy array (zeros when T = 0)."""
        n = self.width
        out = np.empty((n, n), dtype=np.float32)
        _check(lib.vqr_hessian_read(self._handle(), out.ctypes.data, 0))
        return out

    def d_matrix(self):
        """D = (2/T) sum_t (x_fp,t - x_q,t) x_q,t^T as a float32 n x n numpy array (not symmetric;
        row i = input channel i of the asymmetry; zeros when T = 0). Error(INVALID_ARGUMENT) when
        the accumulator is not asymmetric."""
        n = self.width
        out = np.empty((n, n), dtype=np.float32)
        _check(lib.vqr_hessian_read_d(self._handle(), out.ctypes.data, 0))
        return out

    def to_bytes(self):
        """The serialized accumulator (format in vqround.h, vqr_hessian_serialize); includes D
        and the flags, so from_bytes restores an asymmetric accumulator as such."""
        size = ctypes.c_size_t()
        _check(lib.vqr_hessian_serialized_size(self._handle(), ctypes.byref(size)))
        buf = ctypes.create_string_buffer(max(size.value, 1))
        written = ctypes.c_size_t()
        _check(lib.vqr_hessian_serialize(self._handle(), buf, size.value, ctypes.byref(written)))
        return buf.raw[:written.value]

    @classmethod
    def from_bytes(cls, data):
        """Restores an accumulator from to_bytes() output; Error(CORRUPT) when validation fails."""
        raw = np.frombuffer(bytes(data), dtype=np.uint8)
        h = ctypes.c_void_p()
        _check(lib.vqr_hessian_deserialize(raw.ctypes.data, raw.size, ctypes.byref(h)))
        return cls(0, _handle=h)

    def __repr__(self):
        if not self._h:
            return "<vqround.Hessian closed>"
        kind = " asymmetric" if self.asymmetric else ""
        return f"<vqround.Hessian{kind} width={self.width} tokens={self.tokens}>"


def _history(handle, which):
    """A float64 copy of the result's training curve `which` (vqr_result_history)."""
    count = ctypes.c_int64()
    ptr = lib.vqr_result_history(handle, which, ctypes.byref(count))
    return _copy_out(ptr, ctypes.c_double, np.float64, (count.value,))


def _copy_out(ptr, ctype, dtype, shape):
    """Copies a borrowed native array into a new numpy array."""
    count = math.prod(shape)
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    if not ptr:
        raise Error(Status.INTERNAL, "library returned a NULL array for a non-empty result")
    view = np.ctypeslib.as_array(ctypes.cast(ptr, ctypes.POINTER(ctype)), shape=(count,))
    return view.astype(dtype, copy=True).reshape(shape)


def _new_report():
    """A vqr_report for the library to fill: struct_size set, asym_loss NaN (it stays NaN should a
    library not fill the 0.2.0 fields)."""
    rep = _lib.Report()
    rep.struct_size = ctypes.sizeof(rep)
    rep.asym_loss = math.nan
    return rep


def _report_fields(rep):
    """The attributes Result and LayerReport expose from a filled vqr_report."""
    return {
        "method": _METHOD_NAMES.get(rep.method, rep.method),
        "proxy_loss": rep.proxy_loss,
        "rtn_proxy_loss": rep.rtn_proxy_loss,
        "damp": rep.damp,
        "damp_lambda": rep.damp_lambda,
        "damp_attempts": int(rep.damp_attempts),
        "dead_columns": int(rep.dead_columns),
        "seconds": rep.seconds,
        "asym_loss": rep.asym_loss,
        "alpha": rep.alpha,
        "alpha2": rep.alpha2,
        "outer": _OUTER_NAMES.get(rep.outer_mode, rep.outer_mode),
        "init_proxy_loss": rep.init_proxy_loss,
        "trainable_params": int(rep.trainable_params),
        "trainable_share": rep.trainable_share,
        "steps": int(rep.steps),
        "best_step": int(rep.best_step),
        "codebook_size": int(rep.codebook_size),
        "sign_flip_rate": rep.sign_flip_rate,
        "kmeans_seconds": rep.kmeans_seconds,
    }


class Result(_Handle):
    """A quantized layer (vqr_result). Arrays are copies made at creation:
    codes (uint8 m x n), scales and zeros (float32 G x m), g_idx (int32 n),
    dequantized (float32 m x n) = scales[g_idx[j], r] * (codes[r, j] - zeros[g_idx[j], r]).
    Report: proxy_loss, rtn_proxy_loss (NaN without a Hessian or with report_loss=False; for the
    GPTQ family rtn_proxy_loss needs report_loss=2, vqr_report_level in vqround.h), damp,
    damp_lambda, damp_attempts, dead_columns, seconds, method (name, as quantize() takes it).
    With an asymmetric Hessian: asym_loss = tr(dW H dW^T) - 2 tr(dW D^T W^T), the asymmetric
    objective (2/T)||W' X_q - W X_fp||^2 less its constant, so possibly negative (NaN otherwise);
    alpha, alpha2 and outer ("quantized", "prequant", "prequant_clamped") are the asymmetry
    weights and outer mode that ran, presets resolved (0, 0, "quantized" for rtn and gptq).
    Learned rounding (0 or NaN for the other methods): init_proxy_loss (the hard initialization's
    proxy loss), trainable_params and trainable_share (/ m n), steps, best_step (the step whose
    parameters were kept; -1 = the initialization), codebook_size (VQRound's K after the cap),
    sign_flip_rate (VQRound: share of initial rounding decisions k-means changed), kmeans_seconds;
    loss_history and reg_history (float64, one entry per step: the layer objective and the weighted
    rounding regularizer; empty for the other methods).
    Shape: rows, cols, groups, bits, group_size (as requested; -1 = per row). The native handle
    stays open for pack_gptq() until close()."""
    _free = staticmethod(lib.vqr_result_free)

    def __init__(self, handle, group_size):
        self._h = handle
        try:
            self._read(group_size)
        except BaseException:
            self.close()
            raise

    def _read(self, group_size):
        h = self._h
        m, n, g, b = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int()
        _check(lib.vqr_result_shape(h, ctypes.byref(m), ctypes.byref(n), ctypes.byref(g),
                                    ctypes.byref(b)))
        self.rows, self.cols, self.groups, self.bits = m.value, n.value, g.value, b.value
        self.group_size = group_size
        m, n, g = self.rows, self.cols, self.groups
        self.codes = _copy_out(lib.vqr_result_codes(h), ctypes.c_uint8, np.uint8, (m, n))
        self.scales = _copy_out(lib.vqr_result_scales(h), ctypes.c_float, np.float32, (g, m))
        self.zeros = _copy_out(lib.vqr_result_zeros(h), ctypes.c_float, np.float32, (g, m))
        self.g_idx = _copy_out(lib.vqr_result_g_idx(h), ctypes.c_int32, np.int32, (n,))
        self.dequantized = np.empty((m, n), dtype=np.float32)
        _check(lib.vqr_result_dequantize(h, _lib.DTYPE_F32, self.dequantized.ctypes.data, 0))
        rep = _new_report()
        _check(lib.vqr_result_report(h, ctypes.byref(rep)))
        for name, value in _report_fields(rep).items():
            setattr(self, name, value)
        self.loss_history = _history(h, _lib.HISTORY_LOSS)
        self.reg_history = _history(h, _lib.HISTORY_REGULARIZER)

    def pack_gptq(self, version=1):
        """See vqround.pack_gptq."""
        h = self._handle()
        shape = _lib.PackedShape()
        _check(lib.vqr_result_packed_shape(h, int(version), ctypes.byref(shape)))
        out = {
            "qweight": np.empty((shape.qweight_rows, shape.qweight_cols), dtype=np.int32),
            "qzeros": np.empty((shape.qzeros_rows, shape.qzeros_cols), dtype=np.int32),
            "scales": np.empty((shape.scales_rows, shape.scales_cols), dtype=np.uint16),
            "g_idx": np.empty((shape.g_idx_len,), dtype=np.int32),
        }
        _check(lib.vqr_result_pack_gptq(h, int(version), out["qweight"].ctypes.data,
                                        out["qzeros"].ctypes.data, out["scales"].ctypes.data,
                                        out["g_idx"].ctypes.data))
        out["scales"] = out["scales"].view(np.float16)
        return out

    def __repr__(self):
        return (f"<vqround.Result {self.method} {self.rows}x{self.cols} bits={self.bits} "
                f"groups={self.groups} proxy_loss={self.proxy_loss:.6g}>")


def _library_names(param, name_of):
    """{name: number} for every value of an enum parameter, named by the library itself
    (vqr_param_bounds for the range, vqr_method_name / vqr_grid_name for the names), so the
    binding keeps no copy of the library's method table."""
    b = param_bounds(param)
    return {name_of(v): v for v in range(int(b["lower"]), int(b["upper"]) + 1) if name_of(v) is not None}


_METHODS = _library_names("method", method_name)
_METHOD_NAMES = {v: k for k, v in _METHODS.items()}
_OUTERS = {"quantized": _lib.OUTER_QUANTIZED, "prequant": _lib.OUTER_PREQUANT,
           "prequant_clamped": _lib.OUTER_PREQUANT_CLAMPED}
_OUTER_NAMES = {v: k for k, v in _OUTERS.items()}
_GRIDS = _library_names("grid", grid_name)
_INITS = {"rtn": _lib.INIT_RTN, "gptq": _lib.INIT_GPTQ}
_BETA_SCHEDULES = {"cosine": _lib.BETA_COSINE, "linear": _lib.BETA_LINEAR,
                   "hold_linear": _lib.BETA_HOLD_LINEAR}
_REG_UNITS = {"objective": _lib.REG_OBJECTIVE, "grid_step": _lib.REG_GRID_STEP}
_DTYPES = {"f32": _lib.DTYPE_F32, "f16": _lib.DTYPE_F16, "bf16": _lib.DTYPE_BF16}
_DTYPE_ALIASES = {"float32": "f32", "fp32": "f32", "float16": "f16", "fp16": "f16",
                  "half": "f16", "bfloat16": "bf16"}
_SAMPLINGS = {"paragraphs": _lib.SAMPLE_PARAGRAPHS, "windows": _lib.SAMPLE_WINDOWS,
              "random_windows": _lib.SAMPLE_RANDOM_WINDOWS}
_FORMATS = {"native": _lib.FORMAT_NATIVE, "huggingface": _lib.FORMAT_HUGGINGFACE,
            "llama2c": _lib.FORMAT_LLAMA2C, "gptq": _lib.FORMAT_GPTQ,
            "compressed-tensors": _lib.FORMAT_COMPRESSED_TENSORS, "gguf": _lib.FORMAT_GGUF}


def _choice(kind, value, table, allow_none=False):
    """table[value] for a known name, else Error(INVALID_ARGUMENT) listing the valid names."""
    if isinstance(value, str) and value in table:
        return table[value]
    if allow_none and value is None:
        return None
    names = ", ".join(repr(k) for k in table)
    none = "None or " if allow_none else ""
    raise _invalid(f"{kind} must be {none}one of {names}; got {value!r}")


def _dtype_choice(kind, value):
    """A vqr_dtype from "f32", "f16", "bf16" (also "float32", "fp16", "bfloat16", ...) or a numpy
    dtype float32 / float16; else Error(INVALID_ARGUMENT)."""
    key = None
    if isinstance(value, str):
        key = _DTYPE_ALIASES.get(value.lower(), value.lower())
    elif value is not None:
        try:
            key = {np.dtype(np.float32): "f32", np.dtype(np.float16): "f16"}.get(np.dtype(value))
        except (TypeError, ValueError):
            key = None
    if key in _DTYPES:
        return _DTYPES[key]
    raise _invalid(f"{kind} must be one of 'f32', 'f16', 'bf16' (or numpy float32/float16); "
                   f"got {value!r}")


_LOSS_END = _lib.Progress.loss.offset + ctypes.sizeof(ctypes.c_double)
_SECONDS_END = _lib.Progress.seconds.offset + ctypes.sizeof(ctypes.c_double)
# The stages Model.quantize reports at the end of each block's phases (since 0.5.0).
_PHASE_STAGES = frozenset(("load", "forward", "hessian", "sweep"))


class _ProgressBridge:
    """Calls a Python progress(stage, done, total, value) from vqr_context_set_progress: value is
    the stage's loss, or for the phase stages of Model.quantize ("load", "forward", "hessian",
    "sweep") the phase's seconds. The ctypes callback object must outlive the native call
    (quantize keeps this bridge alive). An exception raised by the Python callable is kept and
    cancels the call; quantize re-raises it afterwards."""

    def __init__(self, fn):
        self.fn = fn
        self.error = None
        self.c_fn = _lib.PROGRESS_FN(self._call)

    def _call(self, _user_data, p):
        try:
            p = p.contents
            stage = (p.stage or b"").decode("utf-8", "replace")
            # A library older than 0.3.0 fills a shorter struct: no loss field.
            loss = p.loss if p.struct_size >= _LOSS_END else math.nan
            if stage in _PHASE_STAGES:
                loss = p.seconds if p.struct_size >= _SECONDS_END else math.nan
            return 1 if self.fn(stage, int(p.done), int(p.total), float(loss)) else 0
        except BaseException as e:  # noqa: BLE001 - re-raised by quantize after the C call
            self.error = e
            return 1


class _LogBridge:
    """Calls a Python log(level, message) from vqr_context_set_log (LogLevel, str). A log callback
    cannot stop the native call: the first exception the callable raises is kept, later lines are
    dropped, and the caller re-raises it once the native call has returned."""

    def __init__(self, fn):
        self.fn = fn
        self.error = None
        self.c_fn = _lib.LOG_FN(self._call)

    def _call(self, _user_data, level, message):
        if self.error is not None:
            return
        try:
            try:
                level = LogLevel(level)
            except ValueError:
                level = int(level)
            self.fn(level, (message or b"").decode("utf-8", "replace"))
        except BaseException as e:  # noqa: BLE001 - re-raised after the C call
            self.error = e


def quantize(w, hessian=None, method="rtn", bits=4, group_size=-1, sym=False, act_order=False,
             static_groups=False, damp=0.01, block_size=128, mse=False, grid="gptq",
             allow_partial_group=False, stale_groups=False, report_loss=True, threads=None,
             alpha=None, alpha2=None, outer=None, exact_target=False, *, steps=None, lr=None,
             init="rtn", reg_weight=None, reg_mean=False, reg_units=None, beta_start=None,
             beta_end=None, beta_schedule=None, warmup=None, beta_hold=None, keep_best=True,
             vq_dim=None, codebook_size=None, kmeans_iters=None, kmeans_sample=None, sign_consistent=False,
             rank=None, minmax_tuning=True, minmax_lr=None, scale_dtype="f32", seed=0,
             progress=None, backend="cpu", device=None):
    """Quantizes one linear layer's weights w (m x n, out_features x in_features) and returns a
    Result. hessian: a Hessian of the layer's inputs (width n); required except for "rtn" (then it
    only feeds the proxy losses). grid: "gptq" (grid a), "quarot" (grid b), spec gptq §1.6, or
    "full_range" (AutoRound's symmetric grid using all 2^bits levels; sym is ignored).
    method:
      "rtn"          round to nearest;
      "gptq"         GPTQ (spec gptq §1);
      "gptaq"        GPTAQ as the official code runs it: alpha 0.25, outer "quantized";
      "rescomp"      ResComp: alpha = alpha2 = 0.25, outer "prequant_clamped" at >= 3 bits and
                     "quantized" at 2 bits;
      "gptaq_paper"  GPTAQ as the paper writes it: alpha 1, outer "prequant";
      "adaround"     AdaRound: a rectified-sigmoid latent per weight, Adam, annealed regularizer;
      "autoround"    AutoRound/SignRound (layer-wise): rounding offsets plus per-group min/max
                     scales, SignSGD, best step kept; grids "gptq" (sym or not) and "full_range";
      "vqround"      VQRound: AdaRound latents drawn from a k-means codebook (K x vq_dim), only
                     the codebook is trained;
      "loraround"    LoRA-rounding: offsets 0.5 tanh(A B^T) of rank `rank`.
    "gptaq", "rescomp" and "gptaq_paper" need an asymmetric Hessian (Hessian(n, asymmetric=True)
    fed with pairs). alpha, alpha2 (floats, 0..100) and outer ("quantized", "prequant",
    "prequant_clamped") override the method's preset (VQR_PARAM_ALPHA, _ALPHA2, _OUTER); None
    keeps the preset. exact_target=True (method "gptq", asymmetric Hessian) runs GPTQ on the
    pre-corrected target W (I + D H_damped^-1), an ablation (spec gptq §3.3).

    Learned rounding (the four learned methods; the others ignore these). None leaves the
    library's default or the method's preset (vqround.h, VQR_PARAM_STEPS ...): steps (0 returns
    the initialization), lr, minmax_lr (AutoRound's scales; None = lr), reg_weight, warmup
    (share of steps before the regularizer starts), beta_start, beta_end, beta_hold,
    beta_schedule ("cosine", "linear" or "hold_linear"), vq_dim, codebook_size (capped at the
    number of vectors), kmeans_iters, kmeans_sample, rank. init: "rtn" or "gptq" (GPTQ's rounding
    decisions; adaround and vqround only, else Error(UNSUPPORTED)). reg_units (since 0.5.0):
    "grid_step" (default; reg_weight preset 3) or "objective" (the references' units, preset
    0.01), VQR_PARAM_REG_UNITS. reg_mean, keep_best,
    sign_consistent and minmax_tuning are booleans (VQR_PARAM_REG_MEAN, ...).

    scale_dtype (since 0.4.0, VQR_PARAM_SCALE_DTYPE): "f32" (default), "f16" or "bf16" (or numpy
    float32/float16). With "f16"/"bf16" every grid scale is rounded to nearest-even in that type
    before the codes are chosen, so Result.scales hold values exactly representable in it and a
    checkpoint storing fp16 scales (GPTQ, compressed-tensors, GGUF) dequantizes to exactly
    Result.dequantized.

    Context: threads (None or 0 = all cores), seed (0..2^64-1; k-means and LoRA initialization),
    progress: None or a callable progress(stage, done, total, loss) called on this thread during
    the call (stage "gptq", "rtn", "adaround", "kmeans", ...; loss is the training objective, the
    k-means mean squared distance, or NaN); a truthy return cancels the call, which then raises
    Error(CANCELLED). An exception raised by progress also cancels the call and is re-raised here.
    backend, device (since 0.5.0): where the GPTQ-family updates, the proxy losses and the
    learned-rounding objectives run, as for Hessian(); the codes equal the CPU's except where a
    weight sits within a reordered fp32 sum's rounding of a grid boundary.
    The other keywords map to the VQR_PARAM_* of vqround.h with the same names. Raises Error on
    invalid arguments, non-finite weights or a failed factorization."""
    # locals() holds exactly the parameters here: everything but the call's own arguments is a
    # configuration keyword of _config_values (shared with Model.quantize).
    options = {k: v for k, v in locals().items() if k not in ("w", "hessian", "threads", "seed",
                                                               "progress", "backend", "device")}
    ints, floats = _config_values(**options)
    choice = _backend_choice(backend, device)
    if hessian is not None and not isinstance(hessian, Hessian):
        raise _invalid("hessian must be a vqround.Hessian or None")
    _check_call_args(seed, progress)
    keep, t = _tensor(w, "w")
    bridge = _ProgressBridge(progress) if progress is not None else None
    res = ctypes.c_void_p()
    cfg = _new_config(ints, floats)
    try:
        ctx = _new_context(threads, seed, bridge, backend=choice)
        try:
            hh = hessian._handle() if hessian is not None else None
            status = lib.vqr_quantize_layer(ctx, cfg, ctypes.byref(t), hh, ctypes.byref(res))
        finally:
            lib.vqr_context_free(ctx)
    finally:
        lib.vqr_config_free(cfg)
    del keep
    if bridge is not None and bridge.error is not None and status == 0:
        lib.vqr_result_free(res)
    _raise_callback_error(bridge)
    _check(status)
    return Result(res.value, int(group_size))


def _config_values(method="rtn", bits=4, group_size=-1, sym=False, act_order=False,
                   static_groups=False, damp=0.01, block_size=128, mse=False, grid="gptq",
                   allow_partial_group=False, stale_groups=False, report_loss=True, alpha=None,
                   alpha2=None, outer=None, exact_target=False, steps=None, lr=None, init="rtn",
                   reg_weight=None, reg_mean=False, reg_units=None, beta_start=None, beta_end=None,
                   beta_schedule=None, warmup=None, beta_hold=None, beta_final_hold=None,
                   keep_best=True, vq_dim=None,
                   codebook_size=None, kmeans_iters=None, kmeans_sample=None,
                   sign_consistent=False, rank=None, minmax_tuning=True, minmax_lr=None,
                   scale_dtype="f32", blockwise=False, block_batch=None, kmeans_tol=None,
                   e2e=False, teacher_topk=None, temperature=None, e2e_batch=None,
                   eval_every=None, holdout=None, kl_mean=False, teacher="stored"):
    """The configuration keywords of quantize() (and Model.quantize()), checked and mapped to
    VQR_PARAM_* values: (ints, floats), dicts from parameter name to value, None meaning the
    library's default or the method's preset. Names of methods, grids, ... are resolved here;
    the library checks the ranges when _new_config sets them."""
    method_id = _choice("method", method, _METHODS)
    grid_id = _choice("grid", grid, _GRIDS)
    outer_id = _choice("outer", outer, _OUTERS, allow_none=True)
    init_id = _choice("init", init, _INITS)
    schedule_id = _choice("beta_schedule", beta_schedule, _BETA_SCHEDULES, allow_none=True)
    reg_units_id = _choice("reg_units", reg_units, _REG_UNITS, allow_none=True)
    scale_dtype_id = _dtype_choice("scale_dtype", scale_dtype)
    online = _choice("teacher", teacher, {"stored": 0, "online": 1})
    ints = {"method": method_id, "bits": bits, "group_size": group_size, "sym": sym,
            "act_order": act_order, "static_groups": static_groups, "block_size": block_size,
            "mse": mse, "grid": grid_id, "allow_partial_group": allow_partial_group,
            "stale_groups": stale_groups, "report_loss": report_loss,
            "exact_target": exact_target, "outer": outer_id, "init": init_id,
            "beta_schedule": schedule_id, "reg_mean": reg_mean, "reg_units": reg_units_id,
            "keep_best": keep_best,
            "sign_consistent": sign_consistent, "minmax_tuning": minmax_tuning, "steps": steps,
            "vq_dim": vq_dim, "codebook_size": codebook_size, "kmeans_iters": kmeans_iters,
            "kmeans_sample": kmeans_sample, "rank": rank, "scale_dtype": scale_dtype_id,
            "blockwise": blockwise, "block_batch": block_batch, "e2e": e2e,
            "teacher_topk": teacher_topk, "e2e_batch": e2e_batch, "eval_every": eval_every,
            "holdout": holdout, "kl_mean": kl_mean, "teacher_online": online}
    floats = {"damp": damp, "alpha": alpha, "alpha2": alpha2, "lr": lr, "reg_weight": reg_weight,
              "beta_start": beta_start, "beta_end": beta_end, "warmup": warmup,
              "beta_hold": beta_hold, "beta_final_hold": beta_final_hold, "minmax_lr": minmax_lr, "kmeans_tol": kmeans_tol,
              "temperature": temperature}
    return ints, floats


_CONFIG_KEYWORDS = frozenset(inspect.signature(_config_values).parameters)


def _new_config(ints, floats):
    """A native vqr_config holding _config_values' settings; the caller frees it with
    vqr_config_free. Raises Error (OUT_OF_RANGE, ...) with nothing left allocated."""
    cfg = ctypes.c_void_p()
    _check(lib.vqr_config_create(ctypes.byref(cfg)))
    try:
        for name, value in ints.items():
            if value is not None:  # None: the library's default or the method's preset
                _check(lib.vqr_config_set_int(cfg, _lib.PARAM[name], int(value)))
        for name, value in floats.items():
            if value is not None:
                _check(lib.vqr_config_set_float(cfg, _lib.PARAM[name], float(value)))
    except BaseException:
        lib.vqr_config_free(cfg)
        raise
    return cfg


def _check_call_args(seed, progress):
    """Checks the context keywords of a long call: seed an integer in 0..2^64-1, progress None or
    a callable."""
    if progress is not None and not callable(progress):
        raise _invalid("progress must be None or a callable (stage, done, total, loss); "
                       f"got {progress!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise _invalid(f"seed must be an integer; got {seed!r}")
    if not 0 <= int(seed) < 2 ** 64:
        raise Error(Status.OUT_OF_RANGE, f"seed {seed} is outside 0..2^64-1")


def _new_context(threads, seed, bridge, log=None, backend=None):
    """A native vqr_context with the thread count (None = all cores), seed, progress bridge (or
    None), log bridge (or None; INFO and above) and backend (a _backend_choice, or None = the
    CPU); the caller frees it with vqr_context_free."""
    ctx = ctypes.c_void_p()
    _check(lib.vqr_context_create(ctypes.byref(ctx)))
    try:
        _configure_context(ctx, threads, seed, bridge, log)
        if backend is not None:
            _set_backend(ctx, backend)  # after the log bridge, which then sees the choice
    except BaseException:
        lib.vqr_context_free(ctx)
        raise
    return ctx


def _configure_context(ctx, threads, seed, bridge, log):
    """Sets (or, for None, resets to the defaults) a context's per-call settings: threads (None =
    all cores), seed, progress bridge and log bridge. A Model's context is reused across calls, so
    every call sets all four."""
    _check(lib.vqr_context_set_threads(ctx, 0 if threads is None else int(threads)))
    _check(lib.vqr_context_set_seed(ctx, int(seed)))
    _check(lib.vqr_context_set_progress(ctx, bridge.c_fn if bridge is not None else _NO_PROGRESS,
                                        None))
    _check(lib.vqr_context_set_log(ctx, log.c_fn if log is not None else _NO_LOG, None,
                                   _lib.LOG_INFO))


# NULL callbacks (a CFUNCTYPE called without arguments is a NULL pointer): "remove it".
_NO_PROGRESS = _lib.PROGRESS_FN()
_NO_LOG = _lib.LOG_FN()


def _raise_callback_error(bridge):
    """Re-raises what the progress callable raised during the native call: that exception, not
    the CANCELLED status it caused, is the error."""
    if bridge is not None and bridge.error is not None:
        error, bridge.error = bridge.error, None
        raise error


def pack_gptq(result, version=1):
    """Packs a Result into GPTQ checkpoint tensors (spec gptq §1.7): a dict with qweight (int32),
    qzeros (int32), scales (float16) and g_idx (int32), shaped as vqr_result_packed_shape says.
    version 1 = AutoGPTQ "gptq" (qzeros store zero - 1; a zero-point of 0 raises
    Error(UNSUPPORTED)), 2 = GPTQModel "gptq_v2". The Result must not be closed."""
    if not isinstance(result, Result):
        raise _invalid("pack_gptq expects a vqround.Result")
    return result.pack_gptq(version)


# --- whole models ---------------------------------------------------------------------------------

_ModelInfoTuple = collections.namedtuple("ModelInfo", [
    "dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len",
    "shared_classifier", "parameters", "quantized_layers"])

_ROPE_SCALINGS = {0: "none", 1: "linear", 2: "llama3"}


class ModelInfo(_ModelInfoTuple):
    """A model's architecture and provenance (vqr_model_info).

    The tuple holds the fields of 0.3.0, so indexing and unpacking keep working: dim, hidden_dim,
    n_layers, n_heads, n_kv_heads, vocab_size, seq_len, shared_classifier (True: the classifier is
    the token embedding), parameters (fp32 parameters in all), quantized_layers (linear layers
    quantized by the last quantize(), skipped ones not counted; 0 for a fresh model).

    Since 0.4.0, attributes beside the tuple (as os.stat_result adds fields): format
    ("llama2c-v0", "huggingface", "gguf"), architecture ("LlamaForCausalLM", ..., "llama2.c"),
    model_path, tokenizer_path (None without a tokenizer), metadata_path (vqround.json of a folder
    this library wrote, else None), quantization ("gptq", "compressed-tensors", "gguf-blocks" for
    a checkpoint that stored quantized tensors, else None), head_dim, rope_half_layout (True:
    Hugging Face rotate-half q/k rows), rope_scaling ("none", "linear", "llama3"),
    rope_original_context, rope_theta, rope_factor, rope_low_freq_factor, rope_high_freq_factor,
    norm_eps, qkv_bias, qk_norm (booleans), sliding_window (0 = full causal attention),
    file_bytes (bytes of the weight files). _asdict(), ==, repr() and _replace() cover all fields;
    all_fields names them in order."""
    _extra_fields = ("format", "architecture", "model_path", "tokenizer_path", "metadata_path",
                     "quantization", "head_dim", "rope_half_layout", "rope_scaling",
                     "rope_original_context", "rope_theta", "rope_factor", "rope_low_freq_factor",
                     "rope_high_freq_factor", "norm_eps", "qkv_bias", "qk_norm",
                     "sliding_window", "file_bytes")
    all_fields = _ModelInfoTuple._fields + _extra_fields

    def __new__(cls, *args, **kwargs):
        extra = {k: kwargs.pop(k) for k in cls._extra_fields if k in kwargs}
        self = super().__new__(cls, *args, **kwargs)
        for k in cls._extra_fields:
            object.__setattr__(self, k, extra.get(k))
        return self

    def _extras(self):
        return tuple(getattr(self, k, None) for k in self._extra_fields)

    def _asdict(self):
        d = super()._asdict()
        d.update(zip(self._extra_fields, self._extras()))
        return d

    def _replace(self, **changes):
        d = self._asdict()
        unknown = set(changes) - set(d)
        if unknown:
            raise ValueError(f"Got unexpected field names: {sorted(unknown)!r}")
        d.update(changes)
        return type(self)(**d)

    def __getnewargs_ex__(self):
        return tuple(self), dict(zip(self._extra_fields, self._extras()))

    def __eq__(self, other):
        if isinstance(other, ModelInfo):
            return tuple(self) == tuple(other) and self._extras() == other._extras()
        return tuple.__eq__(self, other)

    def __ne__(self, other):
        eq = self.__eq__(other)
        return eq if eq is NotImplemented else not eq

    def __hash__(self):
        return hash((tuple(self), self._extras()))

    def __repr__(self):
        return "ModelInfo(" + ", ".join(f"{k}={v!r}" for k, v in self._asdict().items()) + ")"


for _k in ModelInfo._extra_fields:  # read as None on an instance made by _make()
    setattr(ModelInfo, _k, None)
del _k


LayerInfo = collections.namedtuple("LayerInfo", [
    "name", "block", "skipped", "method", "bits", "group_size", "sym", "rows", "cols"])
LayerInfo.__doc__ = """What the last Model.quantize did to one linear layer (vqr_layer_info):
name ("blk.3.wq"), block, skipped (True: kept in full precision by a skip rule), method (the
method that ran, presets resolved, by name as quantize() takes it), bits, group_size (-1: one group
per output row), sym (bool), rows x cols (out_features x in_features). Since 0.4.0."""

LinearInfo = collections.namedtuple("LinearInfo", [
    "index", "name", "block", "kind", "rows", "cols", "hessian_index"])
LinearInfo.__doc__ = """One linear layer of a model (vqr_model_linear): index (block * 7 + j, j in
wq, wk, wv, wo, w1, w2, w3 order), name ("blk.<block>.<kind>"), block, kind ("wq", ...), rows x
cols (out_features x in_features) and hessian_index, the entry of Model.collect_hessians() holding
the statistics of this layer's input (layers reading the same input share one). Since 0.4.0."""


QuantizeStats = collections.namedtuple("QuantizeStats", [
    "seconds", "load_seconds", "forward_seconds", "hessian_seconds", "sweep_seconds",
    "peak_hidden_bytes", "sequences", "tokens", "calib_dtype", "max_memory_bytes"])
QuantizeStats.__doc__ = """What the last Model.quantize measured (vqr_quantize_stats); see
Model.quantize_stats. Since 0.5.0."""

DistillStats = collections.namedtuple("DistillStats", [
    "ran", "steps", "best_step", "resumed_from", "train_sequences", "holdout_sequences", "tokens",
    "trainable_params", "quantized_weights", "teacher_k", "teacher_online", "teacher_from_cache",
    "teacher_seconds", "seconds", "evals", "loss", "reg"])
DistillStats.__doc__ = """What the last Model.quantize's end-to-end distillation did
(vqr_distill_stats); see Model.distill_stats. Since 0.5.0."""


class LayerReport:
    """What Model.quantize measured on one linear layer: `name` ("blk.<layer>.<wq|wk|wv|wo|w1|w2|
    w3>") and the report fields of Result (method, proxy_loss, rtn_proxy_loss, damp, damp_lambda,
    damp_attempts, dead_columns, seconds, asym_loss, alpha, alpha2, outer, init_proxy_loss,
    trainable_params, trainable_share, steps, best_step, codebook_size, sign_flip_rate,
    kmeans_seconds), with Result's meanings."""

    def __init__(self, name, fields):
        self.name = name
        for key, value in fields.items():
            setattr(self, key, value)

    def __repr__(self):
        return f"<vqround.LayerReport {self.name} {self.method} proxy_loss={self.proxy_loss:.6g}>"


_INT32 = np.iinfo(np.int32)
_INT64 = np.iinfo(np.int64)


def _integer(name, value, lower=_INT64.min, upper=_INT64.max):
    """value as a Python int (integers and numpy integers, not bool or float), else Error
    INVALID_ARGUMENT; outside lower..upper, Error OUT_OF_RANGE."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise _invalid(f"{name} must be an integer; got {value!r}")
    value = int(value)
    if not lower <= value <= upper:
        raise Error(Status.OUT_OF_RANGE, f"{name} {value} is outside {lower}..{upper}")
    return value


def _c_string(name, value):
    """A str (UTF-8) or bytes argument as NUL-free bytes, else Error INVALID_ARGUMENT (the C API
    would stop at the first NUL)."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
    elif isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        raise _invalid(f"{name} must be str or bytes; got {type(value).__name__}")
    if b"\0" in raw:
        raise _invalid(f"{name} contains a NUL character")
    return raw


def _c_path(name, path):
    """A path-like argument as NUL-free bytes (os.fsencode)."""
    try:
        raw = os.fsencode(path)
    except TypeError:
        raise _invalid(f"{name} must be a path (str, bytes or os.PathLike); got "
                       f"{type(path).__name__}") from None
    if b"\0" in raw:
        raise _invalid(f"{name} contains a NUL character")
    return raw


class Sequences:
    """A set of token sequences for calibration and evaluation (vqr_sequences, since 0.4.0):
    `tokens`, the int32 ids of all sequences concatenated, and `lengths`, int64, one per sequence.
    Both are read-only numpy arrays copied out of the library, so a Sequences owns no native
    object. len(), iteration and integer indexing give each sequence as a 1-D int32 view; a slice
    gives a new Sequences. Model.quantize, Model.eval_nll and Model.collect_hessians take it as
    is.

    Built by the protocols of spec gptq_family §5 (sampling=):
      "paragraphs"      each paragraph of the text (split on blank lines, "\\n\\n") encoded with
                        BOS, no EOS, truncated to `length` tokens; the first `count` (0 = all).
                        Exactly [model.tokenize(p)[:length] for p in paragraphs]. Text only.
      "windows"         the whole text encoded once (BOS at its start), or the ids as given, cut
                        into consecutive windows of `length` tokens, the tail dropped; the first
                        `count` (0 = all). The GPTQ evaluation protocol.
      "random_windows"  `count` (>= 1) windows of `length` tokens at positions drawn by a
                        generator seeded with `seed` (the same windows for the same seed, on any
                        platform), from the paragraphs encoded with BOS each and concatenated, or
                        from the ids. A stream no longer than `length` gives one window, the whole
                        stream. The GPTQ calibration protocol.
    length: 1..seq_len tokens; 0 = min(2048, seq_len). A text too short for one window gives an
    empty set, not an error. Errors: OUT_OF_RANGE (length, count), INVALID_ARGUMENT (paragraphs
    from ids, ids outside the vocabulary), UNSUPPORTED (a model without a tokenizer, for text), IO
    (an unreadable file), FORMAT (an id file whose size is not a multiple of 4 or that holds an id
    >= vocab_size).

    Sequences(tokens, lengths) wraps arrays built elsewhere; Sequences.from_list(seqs) packs a list
    of 1-D token arrays."""

    def __init__(self, tokens, lengths):
        tokens, lengths = np.asarray(tokens), np.asarray(lengths)
        if tokens.ndim != 1 or (tokens.size and not np.issubdtype(tokens.dtype, np.integer)):
            raise _invalid("tokens must be a 1-D array of integer token ids")
        if lengths.ndim != 1 or (lengths.size and not np.issubdtype(lengths.dtype, np.integer)):
            raise _invalid("lengths must be a 1-D array of integers")
        if lengths.size and lengths.min() < 0:
            raise _invalid("lengths must not be negative")
        if int(lengths.sum()) != tokens.size:
            raise _invalid(f"lengths sum to {int(lengths.sum())} but there are {tokens.size} "
                           "tokens")
        if tokens.size and (tokens.min() < _INT32.min or tokens.max() > _INT32.max):
            raise _invalid("tokens holds an id outside int32")
        self.tokens = np.array(tokens, dtype=np.int32)
        self.lengths = np.array(lengths, dtype=np.int64)
        self.tokens.flags.writeable = False
        self.lengths.flags.writeable = False
        self._offsets = np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @classmethod
    def from_list(cls, sequences):
        """Packs token sequences (a list of 1-D integer arrays, or a 2-D array, one per row)."""
        tokens, lengths = _sequences(sequences, "sequences")
        return cls(tokens[:int(lengths.sum())], lengths)

    @classmethod
    def _take(cls, handle):
        """Copies a native vqr_sequences out and frees it."""
        try:
            count = int(lib.vqr_sequences_count(handle))
            total = int(lib.vqr_sequences_total_tokens(handle))
            tokens = _copy_out(lib.vqr_sequences_tokens(handle), ctypes.c_int32, np.int32,
                               (total,))
            lengths = _copy_out(lib.vqr_sequences_lengths(handle), ctypes.c_int64, np.int64,
                                (count,))
        finally:
            lib.vqr_sequences_free(handle)
        return cls(tokens, lengths)

    @staticmethod
    def _request(sampling, count, length, seed):
        return (_choice("sampling", sampling, _SAMPLINGS), _integer("count", count),
                _integer("length", length), _integer("seed", seed, 0, 2 ** 64 - 1))

    @classmethod
    def from_text(cls, model, text, sampling="paragraphs", count=0, length=0, seed=0):
        """Sequences from `text` (str, or UTF-8 bytes) with the model's tokenizer
        (vqr_sequences_from_text). Text containing NUL raises Error INVALID_ARGUMENT."""
        raw = _c_string("text", text)
        request = cls._request(sampling, count, length, seed)
        h = ctypes.c_void_p()
        _check(lib.vqr_sequences_from_text(model._handle(), raw, *request, ctypes.byref(h)))
        return cls._take(h)

    @classmethod
    def from_ids(cls, model, ids, sampling="windows", count=0, length=0, seed=0):
        """Sequences from a 1-D array of token ids (vqr_sequences_from_ids); sampling "windows" or
        "random_windows" ("paragraphs" raises Error INVALID_ARGUMENT: ids carry no paragraph
        boundaries)."""
        a = np.asarray(ids)
        if a.ndim != 1 or (a.size and not np.issubdtype(a.dtype, np.integer)):
            raise _invalid(f"ids must be a 1-D array of integer token ids, got shape {a.shape} "
                           f"and dtype {a.dtype}")
        if a.size and (a.min() < _INT32.min or a.max() > _INT32.max):
            raise _invalid("ids holds a token id outside int32")
        a = np.ascontiguousarray(a, dtype=np.int32)
        buf = a if a.size else np.zeros(1, dtype=np.int32)  # never a NULL pointer
        request = cls._request(sampling, count, length, seed)
        h = ctypes.c_void_p()
        _check(lib.vqr_sequences_from_ids(model._handle(), buf.ctypes.data, a.size, *request,
                                          ctypes.byref(h)))
        return cls._take(h)

    @classmethod
    def from_file(cls, model, path, ids=False, sampling=None, count=0, length=0, seed=0):
        """Sequences from a file (vqr_sequences_from_file): UTF-8 text, or with ids=True
        little-endian uint32 token ids. sampling None means "paragraphs" for text and "windows"
        for ids. Errors name the file."""
        if sampling is None:
            sampling = "windows" if ids else "paragraphs"
        request = cls._request(sampling, count, length, seed)
        h = ctypes.c_void_p()
        _check(lib.vqr_sequences_from_file(model._handle(), _c_path("path", path),
                                           int(bool(ids)), *request, ctypes.byref(h)))
        return cls._take(h)

    @property
    def total_tokens(self):
        """Tokens in all sequences."""
        return int(self.tokens.size)

    def __len__(self):
        return int(self.lengths.size)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequences.from_list([self[i] for i in range(len(self))[index]])
        i = range(len(self))[index]  # IndexError and negative indices as for a list
        return self.tokens[self._offsets[i]:self._offsets[i + 1]]

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __eq__(self, other):
        if not isinstance(other, Sequences):
            return NotImplemented
        return (np.array_equal(self.lengths, other.lengths)
                and np.array_equal(self.tokens, other.tokens))

    __hash__ = None

    def __repr__(self):
        return f"<vqround.Sequences {len(self)} sequences, {self.total_tokens} tokens>"


def _sequences(sequences, name):
    """Token sequences (a Sequences, a list of 1-D integer arrays, or a 2-D array with one
    sequence per row) as the C API lays them out: (int32 tokens, concatenated; int64 lengths).
    Lengths and token ids are checked by the library."""
    if isinstance(sequences, Sequences):
        tokens = sequences.tokens if sequences.tokens.size else np.zeros(1, dtype=np.int32)
        return tokens, sequences.lengths
    if isinstance(sequences, np.ndarray) and sequences.ndim != 2 and sequences.dtype != object:
        raise _invalid(f"{name} must be a list of 1-D token arrays or a 2-D array, got an array "
                       f"of shape {sequences.shape} (wrap a single sequence in a list)")
    try:
        seqs = list(sequences)
    except TypeError:
        raise _invalid(f"{name} must be a list of 1-D token arrays; got {type(sequences).__name__}"
                       ) from None
    parts = []
    for i, s in enumerate(seqs):
        a = np.asarray(s)
        if a.ndim != 1:
            raise _invalid(f"{name}[{i}] must be a 1-D array of token ids, got shape {a.shape}")
        if a.size and not np.issubdtype(a.dtype, np.integer):
            raise _invalid(f"{name}[{i}] must hold integer token ids, got dtype {a.dtype}")
        if a.size and (a.min() < _INT32.min or a.max() > _INT32.max):
            raise _invalid(f"{name}[{i}] holds a token id outside int32")
        parts.append(a.astype(np.int32))
    lengths = np.array([p.size for p in parts], dtype=np.int64)
    tokens = np.zeros(max(1, int(lengths.sum())), dtype=np.int32)  # never a NULL pointer
    if parts:
        np.concatenate(parts, out=tokens[:int(lengths.sum())])
    return tokens, lengths


_PARAM_CHOICES = {"method": _METHODS, "grid": _GRIDS, "outer": _OUTERS, "init": _INITS,
                  "beta_schedule": _BETA_SCHEDULES}


def _param_setting(name, value):
    """(param id, is_float, value) for one keyword of Model.override: names and values as
    quantize() takes them; the library's bounds decide int or float."""
    if name not in _lib.PARAM:
        raise TypeError(f"Model.override() got an unexpected keyword argument {name!r}")
    if value is None:
        raise _invalid(f"{name}=None: an override needs a value")
    if name in _PARAM_CHOICES:
        value = _choice(name, value, _PARAM_CHOICES[name])
    elif name == "scale_dtype":
        value = _dtype_choice(name, value)
    pid = _lib.PARAM[name]
    b = _lib.Bounds()
    _check(lib.vqr_param_bounds(pid, ctypes.byref(b)))
    if b.is_float:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise _invalid(f"{name} must be a number; got {value!r}")
        return pid, True, float(value)
    if isinstance(value, (bool, np.bool_)):
        value = int(value)
    return pid, False, _integer(name, value)


class Model(_Handle):
    """A whole LLaMA-family model (vqr_model: llama2.c, Hugging Face or GGUF checkpoints). Its
    weights stay in the memory-mapped file in their own dtype; one block at a time is widened to
    fp32 when the model runs (vqr_model_load).

    Model(path, tokenizer=None) loads `path`: a checkpoint file, or a folder written by save() or
    `vqround quantize`, or a Hugging Face folder (config.json + safetensors; Llama, Mistral, Qwen2,
    Qwen3, OPT). tokenizer None takes the folder's byte-level BPE tokenizer.json (GPT-2, Llama 3,
    Qwen2; since 0.5.0), else its tokenizer.model or tokenizer.bin, or beside a checkpoint file a
    tokenizer.bin or the single tok*.bin; tokenizer may also name a tokenizer.json, tokenizer.model,
    tokenizer.bin or GGUF file. A Hugging Face folder without one loads
    without a tokenizer (tokenize() then raises UNSUPPORTED; pass ids). Raises Error IO (missing
    files, no tokenizer found), FORMAT (malformed checkpoint, config or tokenizer), UNSUPPORTED.
    close() or a `with` block frees the native model.

    Since 0.4.0: sequences_from_text / _ids / _file (calibration and evaluation Sequences),
    override / skip / clear_overrides (per-layer rules for quantize) and layer_infos (what ran),
    linears / linear_weight / collect_hessians (layer-wise work), set_metadata and export
    (checkpoint formats); info carries the source's format, paths and RoPE/attention details.

    Since 0.5.0: backend ("cpu", "opencl" or "auto") and device (None or "D" / "P:D") choose where
    the model's calls compute, as for Hessian(): the model keeps one context with that backend for
    all its calls (the Hessians, GPTQ-family updates and learned-rounding objectives of quantize();
    the forward and backward passes run on the CPU in this version). The `backend` property says
    what was chosen ("auto" without a GPU: "cpu: ..."). An unknown backend raises ValueError,
    "opencl" without a usable device Error(UNSUPPORTED), before the model is loaded."""
    _free = staticmethod(lib.vqr_model_free)
    _ctx = None

    def __init__(self, path, tokenizer=None, *, backend="cpu", device=None):
        choice = _backend_choice(backend, device)
        # The context first: a backend that cannot be used fails before a (long) load.
        self._ctx = _new_context(None, 0, None, backend=choice)
        h = ctypes.c_void_p()
        tok = None if tokenizer is None else os.fsencode(tokenizer)
        _check(lib.vqr_model_load(os.fsencode(path), tok, ctypes.byref(h)))
        self._h = h.value
        self.path = os.fspath(path)

    def close(self):
        """Frees the native model and its context now; further calls raise Error. Idempotent."""
        super().close()
        ctx, self._ctx = self._ctx, None
        if ctx and lib is not None:
            lib.vqr_context_free(ctx)

    def _context(self, threads, seed, bridge, log=None):
        """The model's context with this call's settings (they are reset every call)."""
        if not self._ctx:
            raise _invalid("Model is closed")
        _configure_context(self._ctx, threads, seed, bridge, log)
        # The native context points at the bridges' C callbacks until the next call resets it:
        # keep them alive that long.
        self._callbacks = (bridge, log)
        return self._ctx

    @property
    def backend(self):
        """What the model's calls compute with (vqr_context_backend): "cpu: ..." or
        "opencl: OpenCL <device> (<platform>, <type>)". Since 0.5.0."""
        if not self._ctx:
            raise _invalid("Model is closed")
        return lib.vqr_context_backend(self._ctx).decode("utf-8", "replace")

    @property
    def info(self):
        """The architecture and provenance, a ModelInfo (dim, hidden_dim, n_layers, n_heads,
        n_kv_heads, vocab_size, seq_len, shared_classifier, parameters, quantized_layers; since
        0.4.0 also format, architecture, model_path, tokenizer_path, metadata_path, quantization,
        head_dim, rope_*, norm_eps, qkv_bias, qk_norm, sliding_window, file_bytes)."""
        i = _lib.ModelInfo()
        i.struct_size = ctypes.sizeof(i)
        _check(lib.vqr_model_get_info(self._handle(), ctypes.byref(i)))
        text = _name_or_none
        return ModelInfo(i.dim, i.hidden_dim, i.n_layers, i.n_heads, i.n_kv_heads, i.vocab_size,
                         i.seq_len, bool(i.shared_classifier), int(i.parameters),
                         int(i.quantized_layers),
                         format=text(i.format), architecture=text(i.architecture),
                         model_path=text(i.model_path), tokenizer_path=text(i.tokenizer_path),
                         metadata_path=text(i.metadata_path), quantization=text(i.quantization),
                         head_dim=int(i.head_dim), rope_half_layout=bool(i.rope_half_layout),
                         rope_scaling=_ROPE_SCALINGS.get(i.rope_scaling, int(i.rope_scaling)),
                         rope_original_context=int(i.rope_original_context),
                         rope_theta=i.rope_theta, rope_factor=i.rope_factor,
                         rope_low_freq_factor=i.rope_low_freq_factor,
                         rope_high_freq_factor=i.rope_high_freq_factor, norm_eps=i.norm_eps,
                         qkv_bias=bool(i.qkv_bias), qk_norm=bool(i.qk_norm),
                         sliding_window=int(i.sliding_window), file_bytes=int(i.file_bytes))

    def tokenize(self, text, bos=True):
        """Token ids (int32 1-D array) of `text` (str, or UTF-8 bytes) with the model's tokenizer
        (llama2.c encode; bos adds BOS = 1 first). Text containing NUL raises Error
        INVALID_ARGUMENT (the C API reads up to the first NUL)."""
        if isinstance(text, str):
            raw = text.encode("utf-8")
        elif isinstance(text, (bytes, bytearray)):
            raw = bytes(text)
        else:
            raise _invalid(f"text must be str or bytes; got {type(text).__name__}")
        if b"\0" in raw:
            raise _invalid("text contains a NUL character; the tokenizer reads text up to the "
                           "first NUL")
        h = self._handle()
        count = ctypes.c_int64()
        status = lib.vqr_model_tokenize(h, raw, int(bool(bos)), None, 0, ctypes.byref(count))
        if status not in (Status.OK, Status.BUFFER_TOO_SMALL):
            _check(status)
        out = np.empty(max(1, count.value), dtype=np.int32)
        _check(lib.vqr_model_tokenize(h, raw, int(bool(bos)), out.ctypes.data, out.size,
                                      ctypes.byref(count)))
        return out[:count.value].copy()

    def quantize(self, calibration, method="gptq", bits=4, group_size=-1, *, seed=0,
                 threads=None, progress=None, calib_dtype="f32", max_memory=0, spill_dir=None,
                 teacher_cache=None, checkpoint=None, resume=False, **options):
        """Quantizes every linear layer in place, block by block (vqr_model_quantize), and returns
        the per-layer reports (a list of LayerReport, in processing order). Afterwards the model's
        weights are the dequantized quantized ones: eval_nll measures the quantized model and
        save() writes it.

        calibration: token sequences (a Sequences, e.g. from sequences_from_text(); a list of 1-D
        integer arrays, each 1..seq_len tokens; or a 2-D array, one sequence per row), each run
        with a fresh context. method, bits, group_size
        and **options are quantize()'s configuration keywords (sym, act_order, damp, grid, steps,
        lr, init, codebook_size, ...), applied to every layer, plus (since 0.5.0) blockwise=True
        with method="autoround": each decoder block's seven linears trained together on the
        block's output (block_batch sequences per step, default 8); group_size must divide dim and
        hidden_dim unless allow_partial_group=True. The rules of override() and skip() change
        this per layer (layer_infos() tells what ran). seed, threads and progress as for quantize();
        progress sees stage "model" (done = layers finished of 7 n_layers) besides each layer's
        own stages, and since 0.5.0 the end of each block's phases: stages "load", "forward",
        "hessian", "sweep" with done = the block + 1 of total blocks and the phase's seconds as
        the fourth argument. On an error (Error CANCELLED included) the model may be partly
        quantized.

        Calibration storage (since 0.5.0, vqr_model_set_calibration; each call applies its own):
        calib_dtype "f32" (exact, default), "bf16" or "f16" keeps the hidden states between blocks
        in half the memory, rounded (the Hessians and codes change slightly); max_memory: their
        budget in bytes (0 = no limit), the rest spilled to a temporary file in spill_dir (None =
        $TMPDIR or /tmp; an existing folder). quantize_stats() tells what the run measured.

        End-to-end distillation (since 0.5.0): e2e=True with method "vqround" or "adaround"
        initializes every layer (init="rtn" or "gptq") and then trains all layers' rounding
        parameters together on the full-precision model's output distribution (steps, lr; the
        keywords teacher_topk, temperature, e2e_batch, eval_every, holdout, kl_mean and
        teacher="stored" or "online" as VQR_PARAM_TEACHER_TOPK ... VQR_PARAM_TEACHER_ONLINE).
        teacher_cache: a file the stored teacher is read from when it exists and written to
        otherwise; checkpoint: a file the training state is written to at every evaluation and on
        cancellation; resume=True continues from it (vqr_model_set_distill_files). steps=0 returns
        the initialization bit for bit. progress sees stage "distill" (done = steps, loss =
        training loss plus regularizer); distill_stats() tells what the run did."""
        unknown = sorted(set(options) - _CONFIG_KEYWORDS)
        if unknown:
            raise TypeError(f"Model.quantize() got an unexpected keyword argument {unknown[0]!r}")
        ints, floats = _config_values(method=method, bits=bits, group_size=group_size, **options)
        _check_call_args(seed, progress)
        tokens, lengths = _sequences(calibration, "calibration")
        dtype = _dtype_choice("calib_dtype", calib_dtype)
        max_memory = _integer("max_memory", max_memory, 0)
        spill = None if spill_dir is None else os.fsencode(spill_dir)
        h = self._handle()
        _check(lib.vqr_model_set_calibration(h, dtype, max_memory, spill))
        _check(lib.vqr_model_set_distill_files(
            h, None if teacher_cache is None else os.fsencode(teacher_cache),
            None if checkpoint is None else os.fsencode(checkpoint), int(bool(resume))))
        bridge = _ProgressBridge(progress) if progress is not None else None
        cfg = _new_config(ints, floats)
        try:
            status = lib.vqr_model_quantize(self._context(threads, seed, bridge), h, cfg,
                                            tokens.ctypes.data, lengths.ctypes.data, lengths.size)
        finally:
            lib.vqr_config_free(cfg)
        _raise_callback_error(bridge)
        _check(status)
        return self.layer_reports()

    def quantize_stats(self):
        """What the last quantize() measured (vqr_model_quantize_stats), a QuantizeStats: seconds,
        load_seconds, forward_seconds, hessian_seconds, sweep_seconds (summed over the blocks),
        peak_hidden_bytes (the calibration hidden states' most bytes in memory at once),
        sequences, tokens, calib_dtype ("f32", "bf16", "f16") and max_memory_bytes it ran with;
        all zero (calib_dtype "f32") before one. Since 0.5.0."""
        st = _lib.QuantizeStats()
        _check(lib.vqr_model_quantize_stats(self._handle(), ctypes.byref(st)))
        names = {v: k for k, v in _DTYPES.items()}
        return QuantizeStats(st.seconds, st.load_seconds, st.forward_seconds, st.hessian_seconds,
                             st.sweep_seconds, int(st.peak_hidden_bytes), int(st.sequences),
                             int(st.tokens), names.get(st.calib_dtype, int(st.calib_dtype)),
                             int(st.max_memory_bytes))

    def distill_stats(self):
        """What the last quantize()'s end-to-end distillation did (vqr_model_distill_stats), a
        DistillStats: ran (False without e2e), steps, best_step (-1 = the initialization kept),
        resumed_from, train_sequences, holdout_sequences, tokens, trainable_params,
        quantized_weights, teacher_k, teacher_online, teacher_from_cache, teacher_seconds, seconds,
        evals (a list of (step, kl, nll): held-out KL per token and NLL per predicted token of the
        hard-rounded student, the first the initialization's), loss and reg (per step). Since 0.5.0."""
        h = self._handle()
        st = _lib.DistillStats()
        _check(lib.vqr_model_distill_stats(h, ctypes.byref(st)))
        evals = []
        for i in range(int(st.evaluations)):
            step, kl, nll = ctypes.c_int64(), ctypes.c_double(), ctypes.c_double()
            _check(lib.vqr_model_distill_eval(h, i, ctypes.byref(step), ctypes.byref(kl),
                                              ctypes.byref(nll)))
            evals.append((int(step.value), kl.value, nll.value))
        loss, reg = [], []
        for t in range(int(st.steps) if st.ran else 0):
            a, b = ctypes.c_double(), ctypes.c_double()
            _check(lib.vqr_model_distill_loss(h, t, ctypes.byref(a), ctypes.byref(b)))
            loss.append(a.value)
            reg.append(b.value)
        return DistillStats(bool(st.ran), int(st.steps), int(st.best_step), int(st.resumed_from),
                            int(st.train_sequences), int(st.holdout_sequences), int(st.tokens),
                            int(st.trainable_params), int(st.quantized_weights), int(st.teacher_k),
                            bool(st.teacher_online), bool(st.teacher_from_cache),
                            st.teacher_seconds, st.seconds, evals, loss, reg)

    def layer_reports(self):
        """The per-layer reports of the last quantize() (an empty list before one)."""
        h = self._handle()
        out = []
        for i in range(int(lib.vqr_model_layer_count(h))):
            name = ctypes.c_char_p()
            rep = _new_report()
            _check(lib.vqr_model_layer_report(h, i, ctypes.byref(name), ctypes.byref(rep)))
            out.append(LayerReport(name.value.decode("utf-8", "replace"), _report_fields(rep)))
        return out

    def eval_nll(self, sequences, threads=None, progress=None):
        """Negative log-likelihood (natural log) of token sequences (as quantize's calibration: a
        Sequences, a list of 1-D arrays or a 2-D array),
        each run with a fresh context, tokens 1..n-1 scored: (sum_nll, predicted), so the mean
        is sum_nll / predicted and the perplexity exp(mean). progress as for quantize() (stage
        "eval"). Error INVALID_ARGUMENT for empty or too long sequences and bad token ids."""
        _check_call_args(0, progress)
        tokens, lengths = _sequences(sequences, "sequences")
        h = self._handle()
        bridge = _ProgressBridge(progress) if progress is not None else None
        total, predicted = ctypes.c_double(), ctypes.c_int64()
        status = lib.vqr_model_eval_nll(self._context(threads, 0, bridge), h, tokens.ctypes.data,
                                        lengths.ctypes.data, lengths.size, ctypes.byref(total),
                                        ctypes.byref(predicted))
        _raise_callback_error(bridge)
        _check(status)
        return float(total.value), int(predicted.value)

    def logits(self, ids, threads=None):
        """The logits of one sequence of token ids (1..seq_len of them, a fresh context) under the
        current weights: a float32 array of shape (len(ids), vocab_size), row t scoring the token
        after position t. Error INVALID_ARGUMENT for an empty or too long sequence or a bad id.
        Since 0.5.0."""
        ids = np.ascontiguousarray(np.asarray(ids, dtype=np.int32).reshape(-1))
        vocab = self.info.vocab_size
        out = np.empty((ids.size, vocab), dtype=np.float32)
        _check(lib.vqr_model_logits(self._context(threads, 0, None), self._handle(), ids.ctypes.data, ids.size,
                                    out.ctypes.data, out.size))
        return out

    def save(self, dir):
        """Writes the model as a new folder `dir` (model.bin with the current weights,
        tokenizer.bin, vqround.json with the last quantize()'s settings and reports), which
        Model(dir) loads back. Error INVALID_ARGUMENT when dir exists, IO when writing fails
        (nothing is left behind)."""
        _check(lib.vqr_model_save(self._handle(), os.fsencode(dir)))

    # --- since 0.4.0 ------------------------------------------------------------------------------

    def sequences_from_text(self, text, sampling="paragraphs", count=0, length=0, seed=0):
        """Sequences.from_text(self, ...): calibration or evaluation sequences from text."""
        return Sequences.from_text(self, text, sampling, count, length, seed)

    def sequences_from_ids(self, ids, sampling="windows", count=0, length=0, seed=0):
        """Sequences.from_ids(self, ...): sequences from a 1-D array of token ids."""
        return Sequences.from_ids(self, ids, sampling, count, length, seed)

    def sequences_from_file(self, path, ids=False, sampling=None, count=0, length=0, seed=0):
        """Sequences.from_file(self, ...): sequences from a text file or (ids=True) a file of
        little-endian uint32 ids."""
        return Sequences.from_file(self, path, ids, sampling, count, length, seed)

    def override(self, pattern, **params):
        """Adds per-layer exceptions for the next quantize() calls (vqr_model_override_int/_float):
        every linear layer whose name ("blk.<block>.<wq|wk|wv|wo|w1|w2|w3>") matches the shell
        pattern (fnmatch: *, ?, [..]) gets these parameters instead of quantize()'s. params are
        configuration keywords with quantize()'s names and values (bits=8, group_size=32,
        sym=True, method="rtn", grid="quarot", scale_dtype="f16", damp=0.1, ...), plus the other
        parameters of vqround.h by name (mse_norm, damp_attempts, ...). Rules apply in the order
        they were added; for the same parameter a later match wins. All values are checked before
        any rule is added: Error OUT_OF_RANGE / INVALID_ARGUMENT, and TypeError for an unknown
        keyword. Returns self (calls chain)."""
        raw = _c_string("pattern", pattern)
        if not raw:
            raise _invalid("pattern must not be empty")
        if not params:
            raise _invalid("override needs at least one parameter, e.g. override(pattern, bits=8)")
        settings = [_param_setting(name, value) for name, value in params.items()]
        h = self._handle()
        # Check every value against the library's bounds first, so that a bad one adds no rule.
        cfg = _new_config({}, {})
        try:
            for pid, is_float, value in settings:
                setter = lib.vqr_config_set_float if is_float else lib.vqr_config_set_int
                _check(setter(cfg, pid, value))
        finally:
            lib.vqr_config_free(cfg)
        for pid, is_float, value in settings:
            setter = lib.vqr_model_override_float if is_float else lib.vqr_model_override_int
            _check(setter(h, raw, pid, value))
        return self

    def skip(self, pattern):
        """Keeps the linear layers whose names match the shell pattern in full precision in the
        next quantize() calls (vqr_model_skip_layers); layer_infos() marks them skipped. Returns
        self."""
        raw = _c_string("pattern", pattern)
        if not raw:
            raise _invalid("pattern must not be empty")
        _check(lib.vqr_model_skip_layers(self._handle(), raw))
        return self

    def clear_overrides(self):
        """Removes every override() and skip() rule (vqr_model_clear_overrides). Returns self."""
        lib.vqr_model_clear_overrides(self._handle())
        return self

    def layer_infos(self):
        """What the last quantize() did to each linear layer, in processing order: a list of
        LayerInfo (name, block, skipped, method, bits, group_size, sym, rows, cols), empty before
        one. While quantize() runs (from its progress callable) it lists the layers finished so
        far."""
        h = self._handle()
        out = []
        for i in range(int(lib.vqr_model_layer_count(h))):
            rec = _lib.LayerInfo()
            rec.struct_size = ctypes.sizeof(rec)
            _check(lib.vqr_model_layer_info(h, i, ctypes.byref(rec)))
            out.append(LayerInfo(_name_or_none(rec.name), int(rec.block), bool(rec.skipped),
                                 _METHOD_NAMES.get(rec.method, rec.method), int(rec.bits),
                                 int(rec.group_size), bool(rec.sym), int(rec.rows),
                                 int(rec.cols)))
        return out

    def set_metadata(self, key, value):
        """Free-form provenance written into vqround.json ("metadata": {key: value}) by save() and
        export(), e.g. set_metadata("calibration_file", "wiki.txt") (vqr_model_set_metadata).
        A later value replaces an earlier one; value None removes the key. Returns self."""
        raw_key = _c_string("key", key)
        if not raw_key:
            raise _invalid("key must not be empty")
        raw_value = None if value is None else _c_string("value", value)
        _check(lib.vqr_model_set_metadata(self._handle(), raw_key, raw_value))
        return self

    def linears(self):
        """The model's linear layers, a list of LinearInfo (index, name, block, kind, rows, cols,
        hessian_index), n_layers * 7 of them in index order (vqr_model_linear)."""
        h = self._handle()
        out = []
        for i in range(int(lib.vqr_model_linear_count(h))):
            name, t, hidx = ctypes.c_char_p(), _lib.Tensor(), ctypes.c_int64()
            _check(lib.vqr_model_linear(h, i, ctypes.byref(name), ctypes.byref(t),
                                        ctypes.byref(hidx)))
            n = _name_or_none(name.value)
            out.append(LinearInfo(i, n, int(n.split(".")[1]), n.split(".")[-1], int(t.rows),
                                  int(t.cols), int(hidx.value)))
        return out

    def _linear_index(self, layer):
        if isinstance(layer, str):
            for info in self.linears():
                if info.name == layer:
                    return info.index
            raise _invalid(f"no linear layer named {layer!r} (names are like 'blk.0.wq')")
        return _integer("index", layer)

    def linear_weight(self, layer):
        """The current weights of one linear layer (an index of linears(), or its name such as
        "blk.0.wq") as a new float32 numpy array, rows x cols (out_features x in_features). A
        copy: the library only lends its fp32 buffer until the next linear_weight() call, quantize()
        or free, so the array neither changes with later quantize() calls nor writes back to the
        model."""
        t = _lib.Tensor()
        _check(lib.vqr_model_linear(self._handle(), self._linear_index(layer), None,
                                    ctypes.byref(t), None))
        if t.dtype != _lib.DTYPE_F32:
            raise Error(Status.INTERNAL, f"vqr_model_linear returned dtype {t.dtype}, not F32")
        rows, cols = int(t.rows), int(t.cols)
        stride = int(t.row_stride) or cols
        if rows == 0 or cols == 0:
            return np.zeros((rows, cols), dtype=np.float32)
        flat = _copy_out(t.data, ctypes.c_float, np.float32, ((rows - 1) * stride + cols,))
        return np.lib.stride_tricks.as_strided(flat, (rows, cols), (stride * 4, 4)).copy()

    def collect_hessians(self, calibration, threads=None, progress=None):
        """Runs the model (its current weights) over the calibration sequences (as quantize's)
        and returns one Hessian per distinct linear input (vqr_model_collect_hessians): a list of
        n_layers * 4 symmetric fp32 accumulators, per block the inputs of wq/wk/wv, wo, w1/w3
        and w2; LinearInfo.hessian_index says which one a layer reads. The caller owns them
        (close() each, or let the garbage collector). progress as for quantize() (stage
        "hessian"); Error CANCELLED when it stops the call, and nothing is returned on failure."""
        _check_call_args(0, progress)
        tokens, lengths = _sequences(calibration, "calibration")
        h = self._handle()
        capacity = self.info.n_layers * 4
        out = (ctypes.c_void_p * max(1, capacity))()
        bridge = _ProgressBridge(progress) if progress is not None else None
        status = lib.vqr_model_collect_hessians(self._context(threads, 0, bridge), h,
                                                tokens.ctypes.data, lengths.ctypes.data,
                                                lengths.size, out, capacity)
        if status == 0:
            hessians = [Hessian(0, _handle=out[i]) for i in range(capacity)]
        _raise_callback_error(bridge)  # the Hessians made above free themselves
        _check(status)
        return hessians

    def export(self, path, format="gptq", dtype="f16", shard_bytes=0, log=None):
        """Writes the model to `path` (which must not exist) in `format` (vqr_model_export):
          "native"              save()'s folder: the source's format + vqround.json;
          "huggingface"         config.json + safetensors, dense weights (folder);
          "llama2c"             llama2.c legacy v0, one fp32 file;
          "gptq"                Hugging Face folder with qweight/qzeros/scales/g_idx;
          "compressed-tensors"  Hugging Face folder, pack-quantized;
          "gguf"                one GGUF v3 file for llama.cpp.
        The quantized formats need the codes of the last quantize(); quantize with
        scale_dtype="f16" for checkpoints whose dequantized weights equal the model's bit for
        bit. dtype: storage of the dense tensors, "f32", "f16" or "bf16" (a tensor not exact in
        it is kept in F32, or F16 for GGUF, and the log says so). shard_bytes: safetensors shard
        limit (0 = 5 GB). log: None or a callable log(level, message) receiving the decisions
        (checkpoint version, layers stored unquantized, lossy conversions) as LogLevel.INFO /
        LogLevel.WARN lines during the call; an exception it raises is re-raised when export
        returns (the file is written, or not, by then). Written under a temporary name and
        renamed: a failure leaves nothing. Errors: INVALID_ARGUMENT (path exists, bad dtype),
        UNSUPPORTED (a format that cannot hold this model, e.g. llama2c for Qwen biases,
        compressed-tensors at 3 bits, a quantized format before quantize()), IO."""
        fmt = _choice("format", format, _FORMATS)
        dtype_id = _dtype_choice("dtype", dtype)
        shard = _integer("shard_bytes", shard_bytes)
        raw = _c_path("path", path)
        if log is not None and not callable(log):
            raise _invalid(f"log must be None or a callable (level, message); got {log!r}")
        h = self._handle()
        bridge = _LogBridge(log) if log is not None else None
        status = lib.vqr_model_export(self._context(None, 0, None, bridge), h, raw, fmt, dtype_id,
                                      shard)
        _raise_callback_error(bridge)
        _check(status)

    def __repr__(self):
        if not self._h:
            return "<vqround.Model closed>"
        i = self.info
        return (f"<vqround.Model {self.path!r} dim={i.dim} layers={i.n_layers} "
                f"vocab={i.vocab_size} quantized_layers={i.quantized_layers}>")
