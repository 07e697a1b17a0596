"""Loader and ctypes prototypes for libvqround (include/vqround/vqround.h).

This module mirrors the C header one-to-one: constants, the few public structs, and argtypes/restype
for every function the Python package calls. The Pythonic layer lives in vqround/__init__.py.
Structs here must match the header's layout; append-only fields with struct_size first.
"""
import ctypes
import ctypes.util
import glob
import os

# --- the library --------------------------------------------------------------------------------


def _candidates():
    """Paths to try, best first: $VQROUND_LIBRARY, next to the package, a build tree above it."""
    env = os.environ.get("VQROUND_LIBRARY")
    if env:
        # An explicit path is a promise: use it or fail, never silently load another copy.
        return [env], True
    here = os.path.dirname(os.path.abspath(__file__))
    found = sorted(glob.glob(os.path.join(here, "libvqround.so*")))
    d = here
    while True:
        # Newest build tree first, so that a fresh build wins over a stale one.
        builds = glob.glob(os.path.join(d, "build*", "libvqround.so.0"))
        found += sorted(builds, key=os.path.getmtime, reverse=True)
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    return found, False


def load():
    """Loads libvqround: $VQROUND_LIBRARY, else a copy next to the package, else a build tree
    (build*/libvqround.so.0 in the package's folder or any folder above it), else the system
    loader (ctypes.util.find_library, then libvqround.so.0). Raises OSError when none loads."""
    paths, explicit = _candidates()
    errors = []
    for p in paths:
        try:
            return ctypes.CDLL(p)
        except OSError as e:
            errors.append(f"{p}: {e}")
            if explicit:
                raise OSError(f"VQROUND_LIBRARY={p} could not be loaded: {e}") from None
    for name in filter(None, [ctypes.util.find_library("vqround"), "libvqround.so.0"]):
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(f"{name}: {e}")
    raise OSError("libvqround not found; set VQROUND_LIBRARY to the path of libvqround.so.0 "
                  "(tried: " + "; ".join(errors) + ")")


lib = load()

# --- constants (header enums; values are stable) -------------------------------------------------

STATUS_NAMES = {
    0: "OK", -1: "INVALID_ARGUMENT", -2: "UNSUPPORTED", -3: "OUT_OF_RANGE", -4: "NONFINITE",
    -5: "NUMERICAL", -6: "CORRUPT", -7: "BUFFER_TOO_SMALL", -8: "OUT_OF_MEMORY", -9: "CANCELLED",
    -10: "IO", -11: "INTERNAL", -12: "FORMAT",
}

DTYPE_F32, DTYPE_F16, DTYPE_BF16 = 0, 1, 2
METHOD_RTN, METHOD_GPTQ, METHOD_GPTAQ, METHOD_RESCOMP, METHOD_GPTAQ_PAPER = 0, 1, 2, 3, 4
METHOD_ADAROUND, METHOD_AUTOROUND, METHOD_VQROUND, METHOD_LORAROUND = 5, 6, 7, 8
OUTER_PRESET, OUTER_QUANTIZED, OUTER_PREQUANT, OUTER_PREQUANT_CLAMPED = -1, 0, 1, 2
GRID_GPTQ, GRID_QUAROT, GRID_FULL_RANGE = 0, 1, 2
INIT_RTN, INIT_GPTQ = 0, 1
BETA_PRESET, BETA_COSINE, BETA_LINEAR, BETA_HOLD_LINEAR = -1, 0, 1, 2
REG_OBJECTIVE, REG_GRID_STEP = 0, 1
HISTORY_LOSS, HISTORY_REGULARIZER = 0, 1
HESSIAN_F64, HESSIAN_ASYMMETRIC = 1, 2
PACK_GPTQ_V1, PACK_GPTQ_V2 = 1, 2
LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_NONE = 0, 1, 2, 3, 4
# since 0.4.0
SAMPLE_PARAGRAPHS, SAMPLE_WINDOWS, SAMPLE_RANDOM_WINDOWS = 0, 1, 2
FORMAT_NATIVE, FORMAT_HUGGINGFACE, FORMAT_LLAMA2C, FORMAT_GPTQ = 0, 1, 2, 3
FORMAT_COMPRESSED_TENSORS, FORMAT_GGUF = 4, 5
# since 0.5.0
BACKEND_CPU, BACKEND_OPENCL, BACKEND_AUTO = 0, 1, 2

PARAM = {
    "method": 100,
    "bits": 200, "group_size": 201, "allow_partial_group": 202, "sym": 203, "grid": 204,
    "mse": 205, "mse_norm": 206, "mse_grid": 207, "mse_maxshrink": 208,
    "scale_dtype": 209,  # since 0.4.0
    "act_order": 300, "static_groups": 301, "damp": 302, "damp_increment": 303,
    "damp_attempts": 304, "block_size": 305, "stale_groups": 306,
    "report_loss": 400,
    "alpha": 500, "alpha2": 501, "outer": 502, "exact_target": 503,
    # since 0.3.0: learned rounding
    "steps": 600, "lr": 601, "init": 602, "reg_weight": 603, "reg_mean": 604,
    "beta_start": 605, "beta_end": 606, "beta_schedule": 607, "warmup": 608, "beta_hold": 609, "beta_final_hold": 612,
    "keep_best": 610, "reg_units": 611,
    "vq_dim": 620, "codebook_size": 621, "kmeans_iters": 622, "kmeans_sample": 623,
    "sign_consistent": 624, "kmeans_tol": 625,
    "rank": 630,
    "minmax_tuning": 640, "minmax_lr": 641, "blockwise": 642, "block_batch": 643,
    "e2e": 644, "teacher_topk": 645, "temperature": 646, "e2e_batch": 647, "eval_every": 648,
    "holdout": 649, "kl_mean": 650, "teacher_online": 651, "true_sequential": 660,
}

# --- structs -------------------------------------------------------------------------------------

i64 = ctypes.c_int64
vp = ctypes.c_void_p


class Tensor(ctypes.Structure):
    """vqr_tensor: a borrowed row-major view; row_stride in elements (0 = contiguous)."""
    _fields_ = [("data", vp), ("dtype", ctypes.c_int), ("rows", i64), ("cols", i64),
                ("row_stride", i64)]


class _Sized(ctypes.Structure):
    """An output struct of the struct_size rule: created with struct_size = its own size, so the
    library writes exactly this layout's fields (and stores the bytes it wrote in struct_size)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.struct_size = ctypes.sizeof(self)


class Bounds(_Sized):
    """vqr_bounds (struct_size set on creation; the struct_size rule since 0.5.0)."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("is_float", ctypes.c_int),
                ("lower", ctypes.c_double), ("upper", ctypes.c_double),
                ("default_value", ctypes.c_double)]


class Progress(ctypes.Structure):
    """vqr_progress (the library fills struct_size with its own sizeof; read only the fields
    that fit). `loss` since 0.3.0: NaN for stages without an objective. `seconds` since 0.5.0: the
    phase stages' duration, NaN for the other stages."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("stage", ctypes.c_char_p),
                ("done", i64), ("total", i64), ("elapsed_seconds", ctypes.c_double),
                # since 0.3.0
                ("loss", ctypes.c_double),
                # since 0.5.0
                ("seconds", ctypes.c_double), ("tokens", i64)]


# int (*vqr_progress_fn)(void *user_data, const vqr_progress *progress)
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Progress))

# void (*vqr_log_fn)(void *user_data, vqr_log_level level, const char *message)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)


class Report(ctypes.Structure):
    """vqr_report (the caller sets struct_size = sizeof; the library writes only what fits).
    Fields since 0.2.0 are appended after `seconds`, those since 0.3.0 after `outer_mode`."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("method", ctypes.c_int),
                ("proxy_loss", ctypes.c_double), ("rtn_proxy_loss", ctypes.c_double),
                ("damp", ctypes.c_double), ("damp_lambda", ctypes.c_double),
                ("damp_attempts", ctypes.c_int), ("dead_columns", i64),
                ("seconds", ctypes.c_double),
                # since 0.2.0
                ("asym_loss", ctypes.c_double), ("alpha", ctypes.c_double),
                ("alpha2", ctypes.c_double), ("outer_mode", ctypes.c_int),
                # since 0.3.0
                ("init_proxy_loss", ctypes.c_double), ("trainable_params", i64),
                ("trainable_share", ctypes.c_double), ("steps", i64), ("best_step", i64),
                ("codebook_size", i64), ("sign_flip_rate", ctypes.c_double),
                ("kmeans_seconds", ctypes.c_double)]


class PackedShape(_Sized):
    """vqr_packed_shape (struct_size set on creation; the struct_size rule since 0.5.0)."""
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("qweight_rows", i64), ("qweight_cols", i64),
                ("qzeros_rows", i64), ("qzeros_cols", i64),
                ("scales_rows", i64), ("scales_cols", i64),
                ("g_idx_len", i64)]


class ModelInfo(ctypes.Structure):
    """vqr_model_info (the caller sets struct_size = sizeof; the library writes what fits and
    sets struct_size to the bytes written). Since 0.3.0; the fields after quantized_layers since
    0.4.0 (strings point into the model and live until vqr_model_free)."""
    _fields_ = [("struct_size", ctypes.c_size_t),
                ("dim", ctypes.c_int), ("hidden_dim", ctypes.c_int), ("n_layers", ctypes.c_int),
                ("n_heads", ctypes.c_int), ("n_kv_heads", ctypes.c_int),
                ("vocab_size", ctypes.c_int), ("seq_len", ctypes.c_int),
                ("shared_classifier", ctypes.c_int),
                ("parameters", i64), ("quantized_layers", i64),
                # since 0.4.0
                ("format", ctypes.c_char_p), ("architecture", ctypes.c_char_p),
                ("model_path", ctypes.c_char_p), ("tokenizer_path", ctypes.c_char_p),
                ("metadata_path", ctypes.c_char_p), ("quantization", ctypes.c_char_p),
                ("head_dim", ctypes.c_int), ("rope_half_layout", ctypes.c_int),
                ("rope_scaling", ctypes.c_int), ("rope_original_context", ctypes.c_int),
                ("rope_theta", ctypes.c_double), ("rope_factor", ctypes.c_double),
                ("rope_low_freq_factor", ctypes.c_double),
                ("rope_high_freq_factor", ctypes.c_double),
                ("norm_eps", ctypes.c_double),
                ("qkv_bias", ctypes.c_int), ("qk_norm", ctypes.c_int),
                ("sliding_window", ctypes.c_int), ("file_bytes", i64)]


class LayerInfo(ctypes.Structure):
    """vqr_layer_info (the caller sets struct_size = sizeof; the library writes what fits).
    Since 0.4.0. `name` lives until the next quantize or vqr_model_free."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p),
                ("block", ctypes.c_int), ("skipped", ctypes.c_int), ("method", ctypes.c_int),
                ("bits", ctypes.c_int), ("group_size", i64), ("sym", ctypes.c_int),
                ("rows", i64), ("cols", i64)]


class MethodFacts(_Sized):
    """vqr_method_facts (struct_size set on creation). Since 0.5.0."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("name", ctypes.c_char_p),
                ("stage", ctypes.c_char_p), ("is_sweep", ctypes.c_int),
                ("is_learned", ctypes.c_int), ("needs_hessian", ctypes.c_int),
                ("needs_asymmetric", ctypes.c_int), ("needs_fp_stream", ctypes.c_int),
                ("accepts_exact_target", ctypes.c_int), ("accepts_gptq_init", ctypes.c_int),
                ("preset_steps", i64), ("preset_lr", ctypes.c_double),
                ("preset_warmup", ctypes.c_double), ("preset_alpha", ctypes.c_double),
                ("preset_alpha2", ctypes.c_double), ("preset_outer", ctypes.c_int),
                ("preset_outer_2_bits", ctypes.c_int)]


class QuantizeStats(_Sized):
    """vqr_quantize_stats (struct_size set on creation). Since 0.5.0."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("seconds", ctypes.c_double),
                ("load_seconds", ctypes.c_double), ("forward_seconds", ctypes.c_double),
                ("hessian_seconds", ctypes.c_double), ("sweep_seconds", ctypes.c_double),
                ("peak_hidden_bytes", i64), ("sequences", i64), ("tokens", i64),
                ("calib_dtype", ctypes.c_int), ("max_memory_bytes", i64)]


class DistillStats(_Sized):
    """vqr_distill_stats (struct_size set on creation). Since 0.5.0."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("ran", ctypes.c_int), ("steps", i64),
                ("best_step", i64), ("resumed_from", i64), ("train_sequences", i64),
                ("holdout_sequences", i64), ("tokens", i64), ("trainable_params", i64),
                ("quantized_weights", i64), ("teacher_k", i64), ("teacher_online", ctypes.c_int),
                ("teacher_from_cache", ctypes.c_int), ("teacher_seconds", ctypes.c_double),
                ("seconds", ctypes.c_double), ("evaluations", i64)]


class DeviceInfo(_Sized):
    """vqr_device_info (struct_size set on creation): one OpenCL device. Since 0.5.0."""
    _fields_ = [("struct_size", ctypes.c_size_t), ("index", ctypes.c_int),
                ("platform", ctypes.c_int), ("device", ctypes.c_int),
                ("platform_name", ctypes.c_char * 128), ("name", ctypes.c_char * 128),
                ("vendor", ctypes.c_char * 128), ("version", ctypes.c_char * 128),
                ("type", ctypes.c_char * 16), ("global_mem_bytes", ctypes.c_uint64),
                ("max_alloc_bytes", ctypes.c_uint64), ("compute_units", ctypes.c_int),
                ("max_clock_mhz", ctypes.c_int), ("fp64", ctypes.c_int)]


# --- prototypes ------------------------------------------------------------------------------------

_S = ctypes.c_int  # vqr_status
P = ctypes.POINTER
_PROTOTYPES = {
    "vqr_version_number": (ctypes.c_uint, []),
    "vqr_version_string": (ctypes.c_char_p, []),
    "vqr_build_info": (ctypes.c_char_p, []),
    "vqr_status_string": (ctypes.c_char_p, [ctypes.c_int]),
    "vqr_last_error": (ctypes.c_char_p, []),
    "vqr_context_create": (_S, [P(vp)]),
    "vqr_context_free": (None, [vp]),
    "vqr_context_set_threads": (_S, [vp, ctypes.c_int]),
    "vqr_context_set_seed": (_S, [vp, ctypes.c_uint64]),
    "vqr_context_set_memory_limit": (_S, [vp, i64]),
    "vqr_context_get_memory_limit": (i64, [vp]),
    "vqr_context_set_progress": (_S, [vp, PROGRESS_FN, vp]),
    "vqr_context_set_log": (_S, [vp, LOG_FN, vp, ctypes.c_int]),
    "vqr_param_bounds": (_S, [ctypes.c_int, P(Bounds)]),
    "vqr_param_name": (ctypes.c_char_p, [ctypes.c_int]),
    "vqr_method_name": (ctypes.c_char_p, [ctypes.c_int]),  # since 0.4.0
    "vqr_grid_name": (ctypes.c_char_p, [ctypes.c_int]),    # since 0.4.0
    "vqr_config_create": (_S, [P(vp)]),
    "vqr_config_free": (None, [vp]),
    "vqr_config_set_int": (_S, [vp, ctypes.c_int, i64]),
    "vqr_config_set_float": (_S, [vp, ctypes.c_int, ctypes.c_double]),
    "vqr_hessian_create": (_S, [i64, ctypes.c_uint, P(vp)]),
    "vqr_hessian_free": (None, [vp]),
    "vqr_hessian_add": (_S, [vp, P(Tensor)]),
    "vqr_hessian_add_pair": (_S, [vp, P(Tensor), P(Tensor)]),
    "vqr_hessian_merge": (_S, [vp, vp]),
    "vqr_context_get_threads": (ctypes.c_int, [vp]),
    "vqr_hessian_width": (i64, [vp]),
    "vqr_hessian_token_count": (i64, [vp]),
    "vqr_hessian_flags": (ctypes.c_uint, [vp]),
    "vqr_hessian_read": (_S, [vp, vp, i64]),
    "vqr_hessian_read_d": (_S, [vp, vp, i64]),
    "vqr_hessian_serialized_size": (_S, [vp, P(ctypes.c_size_t)]),
    "vqr_hessian_serialize": (_S, [vp, vp, ctypes.c_size_t, P(ctypes.c_size_t)]),
    "vqr_hessian_deserialize": (_S, [vp, ctypes.c_size_t, P(vp)]),
    "vqr_quantize_layer": (_S, [vp, vp, P(Tensor), vp, P(vp)]),
    "vqr_result_free": (None, [vp]),
    "vqr_result_shape": (_S, [vp, P(i64), P(i64), P(i64), P(ctypes.c_int)]),
    "vqr_result_codes": (vp, [vp]),
    "vqr_result_scales": (vp, [vp]),
    "vqr_result_zeros": (vp, [vp]),
    "vqr_result_g_idx": (vp, [vp]),
    "vqr_result_dequantize": (_S, [vp, ctypes.c_int, vp, i64]),
    "vqr_result_report": (_S, [vp, P(Report)]),
    "vqr_result_history": (P(ctypes.c_double), [vp, ctypes.c_int, P(i64)]),
    "vqr_result_packed_shape": (_S, [vp, ctypes.c_int, P(PackedShape)]),
    "vqr_result_pack_gptq": (_S, [vp, ctypes.c_int, vp, vp, vp, vp]),
    # whole models, since 0.3.0
    "vqr_model_load": (_S, [ctypes.c_char_p, ctypes.c_char_p, P(vp)]),
    "vqr_model_load_on": (_S, [vp, ctypes.c_char_p, ctypes.c_char_p, P(vp)]),
    "vqr_model_free": (None, [vp]),
    "vqr_model_get_info": (_S, [vp, P(ModelInfo)]),
    "vqr_model_tokenize": (_S, [vp, ctypes.c_char_p, ctypes.c_int, vp, i64, P(i64)]),
    "vqr_model_quantize": (_S, [vp, vp, vp, vp, vp, i64]),
    "vqr_model_layer_count": (i64, [vp]),
    "vqr_model_layer_report": (_S, [vp, i64, P(ctypes.c_char_p), P(Report)]),
    "vqr_model_eval_nll": (_S, [vp, vp, vp, vp, i64, P(ctypes.c_double), P(i64)]),
    "vqr_model_logits": (_S, [vp, vp, vp, i64, vp, i64]),
    "vqr_model_save": (_S, [vp, ctypes.c_char_p]),
    # token sequences, since 0.4.0
    "vqr_sequences_from_text": (_S, [vp, ctypes.c_char_p, ctypes.c_int, i64, i64, ctypes.c_uint64,
                                     P(vp)]),
    "vqr_sequences_from_ids": (_S, [vp, vp, i64, ctypes.c_int, i64, i64, ctypes.c_uint64, P(vp)]),
    "vqr_sequences_from_file": (_S, [vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, i64, i64,
                                     ctypes.c_uint64, P(vp)]),
    "vqr_sequences_free": (None, [vp]),
    "vqr_sequences_count": (i64, [vp]),
    "vqr_sequences_tokens": (vp, [vp]),
    "vqr_sequences_lengths": (vp, [vp]),
    "vqr_sequences_total_tokens": (i64, [vp]),
    # per-layer control and inspection, since 0.4.0
    "vqr_model_override_int": (_S, [vp, ctypes.c_char_p, ctypes.c_int, i64]),
    "vqr_model_override_float": (_S, [vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_double]),
    "vqr_model_skip_layers": (_S, [vp, ctypes.c_char_p]),
    "vqr_model_clear_overrides": (None, [vp]),
    "vqr_model_layer_info": (_S, [vp, i64, P(LayerInfo)]),
    "vqr_model_set_metadata": (_S, [vp, ctypes.c_char_p, ctypes.c_char_p]),
    "vqr_model_linear_count": (i64, [vp]),
    "vqr_model_linear": (_S, [vp, i64, P(ctypes.c_char_p), P(Tensor), P(i64)]),
    "vqr_model_collect_hessians": (_S, [vp, vp, vp, vp, i64, P(vp), i64]),
    # checkpoint formats, since 0.4.0
    "vqr_model_export": (_S, [vp, vp, ctypes.c_char_p, ctypes.c_int, ctypes.c_int, i64]),
    "vqr_format_name": (ctypes.c_char_p, [ctypes.c_int]),
    # since 0.5.0
    "vqr_method_info": (_S, [ctypes.c_int, P(MethodFacts)]),
    "vqr_model_set_calibration": (_S, [vp, ctypes.c_int, i64, ctypes.c_char_p]),
    "vqr_model_quantize_stats": (_S, [vp, P(QuantizeStats)]),
    "vqr_model_set_distill_files": (_S, [vp, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]),
    "vqr_model_distill_stats": (_S, [vp, P(DistillStats)]),
    "vqr_model_distill_eval": (_S, [vp, i64, P(i64), P(ctypes.c_double), P(ctypes.c_double)]),
    "vqr_model_distill_loss": (_S, [vp, i64, P(ctypes.c_double), P(ctypes.c_double)]),
    # backends, since 0.5.0
    "vqr_context_set_backend": (_S, [vp, ctypes.c_int, ctypes.c_char_p]),
    "vqr_context_backend": (ctypes.c_char_p, [vp]),
    "vqr_device_count": (ctypes.c_int, []),
    "vqr_device_get": (_S, [ctypes.c_int, P(DeviceInfo)]),
    "vqr_hessian_create_on": (_S, [vp, i64, ctypes.c_uint, P(vp)]),
}

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError(f"{lib._name} does not export {_name}: not a libvqround of this "
                          "version (set VQROUND_LIBRARY to the right one)") from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes
