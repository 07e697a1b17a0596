/*
 * vqround.h — the public C interface of libvqround, and its manual.
 *
 * libvqround quantizes the weights of large language models after training: round-to-nearest
 * (RTN), the GPTQ family (GPTQ, GPTAQ, ResComp) and the learned-rounding family (AdaRound,
 * AutoRound/SignRound, VQRound, LoRA-rounding), all driven by per-layer input statistics. It is
 * a C++ library behind this C ABI: one shared object, libvqround.so (SONAME libvqround.so.0),
 * exporting only the vqr_* symbols declared here.
 *
 * Conventions (they hold for every function below unless its comment says otherwise):
 *  - Fallible functions return a vqr_status: VQR_OK (0) or a negative error code. When a call
 *    fails, vqr_last_error() returns a message naming the offending argument; the calling thread
 *    owns that message, which stays valid until the next failing vqr_* call on the same thread.
 *    Failed calls leave their output arguments and the objects they were given unchanged.
 *  - Each function's comment lists the codes it returns ("Returns VQR_OK, ..."). Two more can come
 *    from every function that returns a vqr_status and are not always repeated in the lists:
 *    VQR_ERR_OUT_OF_MEMORY (an allocation failed) and VQR_ERR_INTERNAL (a bug; the message says
 *    where).
 *  - NULL handles, one rule for all: a function returning a vqr_status returns
 *    VQR_ERR_INVALID_ARGUMENT when an object or a required pointer is NULL (only a vqr_context
 *    argument may be NULL where its comment says so, meaning default settings); a function that
 *    cannot fail (a getter) returns what an empty object would: 0 for counts, sizes, widths, flags
 *    and settings, NULL for pointers; a function returning void does nothing.
 *  - Output structs begin with size_t struct_size, which the caller sets to sizeof the struct it
 *    was compiled with. The library writes min(struct_size, its own sizeof) bytes and stores that
 *    number in struct_size, so fields appended in later versions never overrun an older caller's
 *    struct, and an older library leaves a newer caller's extra fields untouched. (vqr_progress
 *    travels the other way: the library sets its struct_size.)
 *  - "Since x.y.z" names the version a declaration appeared in; fields and values appended later
 *    carry their own "Since".
 *  - Two tiers. Everything before the banner "EXPERIMENTAL" is the stable ABI: its signatures
 *    stay, and any change of behaviour is listed under "Changes in" below. The declarations
 *    after the banner are seen only when the program defines VQR_EXPERIMENTAL before including
 *    this header (as zstd's ZSTD_STATIC_LINKING_ONLY); they are exported all the same (bindings
 *    reach them through dlsym), but their signatures and meaning may change in any minor version.
 *  - Objects are created by vqr_X_create(..., vqr_X **out) and destroyed by vqr_X_free();
 *    vqr_X_free(NULL) does nothing.
 *  - Inputs are borrowed: the library reads them during the call and never keeps a pointer.
 *    Outputs belong to the object that produced them (read them through accessors) or are copied
 *    into buffers the caller allocates (a size query tells how large).
 *  - Thread safety: distinct objects may be used concurrently from different threads; one object
 *    must not be used by two threads at the same time, except vqr_context_cancel(), which may be
 *    called from any thread at any time. Read-only accessors on one object may run concurrently.
 *  - Callbacks (log, progress) run only on the thread that made the API call, never from worker
 *    threads, never concurrently, at a bounded rate.
 *  - The library never aborts, exits, or writes to stdout/stderr, and never changes the global
 *    settings of OpenMP or the BLAS.
 *  - Numerics: fp32 accumulation, round-half-to-even, deterministic results for the same inputs,
 *    settings and thread count.
 *
 * The methods are those of their papers: GPTQ (arXiv 2210.17323), GPTAQ (arXiv 2504.02692),
 * ResComp (arXiv 2604.07955), AdaRound (arXiv 2004.10568), AutoRound/SignRound (arXiv 2309.05516)
 * and VQRound (github.com/zhoustan/VQRound). Where a reference implementation departs from its
 * paper, or this library from both, the comment at the method or option says which rule runs and
 * gives its formula, so this header needs no other document.
 *
 * Changes in 0.5.0 (binary-compatible with 0.4 for callers that set struct_size or zero-initialize
 * their structs; source that uses the 0.4 model additions now defines VQR_EXPERIMENTAL):
 *  - vqr_param_bounds and vqr_result_packed_shape follow the struct_size rule above: they write
 *    min(struct_size, sizeof) bytes instead of the whole struct, so vqr_bounds and vqr_packed_shape
 *    can grow. Their layouts are unchanged (both already began with struct_size, which until 0.4
 *    the library set itself): a caller passing sizeof the struct gets the same bytes as before, and
 *    struct_size 0 (a zero-initialized struct of a caller written for 0.4) is read as the 0.4 size.
 *    Set struct_size before the call; an uninitialized one may now be refused or honoured as given.
 *  - NULL handles follow the one rule above: vqr_context_get_threads, vqr_hessian_width and
 *    vqr_hessian_token_count return 0 for NULL (they returned -1).
 *  - The 0.4 additions for whole models (token sequences, per-layer overrides and inspection,
 *    linear-layer views, Hessian collection, checkpoint export) move to the experimental tier:
 *    define VQR_EXPERIMENTAL to see them. Their symbols and behaviour are unchanged.
 *  - Every declaration states the version it appeared in and the codes it returns.
 *  - vqr_method_info: the facts of a method (statistics it needs, fp stream, presets).
 *  - vqr_progress.seconds, and vqr_model_quantize reports the phases of each block (stages
 *    "load", "forward", "hessian", "sweep") beside stage "model".
 *  - Experimental: vqr_model_export reports progress (stage "export") and can be cancelled
 *    (VQR_ERR_CANCELLED, nothing left behind); its temporaries are unique to each call.
 *  - Experimental: vqr_model_set_calibration (hidden states in bf16/f16, a memory budget with a
 *    spill file) and vqr_model_quantize_stats (per-phase seconds, peak hidden-state bytes).
 *  - vqr_model_load streams: the weights stay in their file (mapped, in their own dtype) and one
 *    decoder block at a time is widened to fp32, so a checkpoint larger than memory loads, quantizes
 *    and evaluates; a damaged value is reported (VQR_ERR_FORMAT) when its rows are first read.
 *    vqr_model_linear's view is therefore a per-layer copy, valid until the next vqr_model_linear
 *    call.
 *  - Backends: vqr_context_set_backend ("cpu", "opencl", "auto"; VQR_OPENCL_PLATFORM /
 *    VQR_OPENCL_DEVICE), vqr_context_backend, vqr_device_count / vqr_device_get and
 *    vqr_hessian_create_on; vqr_build_info lists the OpenCL devices.
 *  - Memory limits: vqr_context_set_memory_limit / _get_memory_limit and vqr_model_load_on. Sizes
 *    taken from inputs (a file's header, a tensor's shape, a count) are checked against the limit
 *    (physical memory by default) before anything is allocated: VQR_ERR_OUT_OF_MEMORY with the
 *    figure instead of an attempt to commit it.
 *  - Non-finite values are reported (VQR_ERR_NONFINITE, naming the place) where they first
 *    appear: vqr_hessian_add / _add_pair refuse a finite batch that would overflow an fp32
 *    accumulator, vqr_hessian_merge a merge that would, vqr_hessian_deserialize a NaN or Inf entry
 *    (it said VQR_ERR_CORRUPT), and every quantizer its own overflow (a GPTQ-family sweep's
 *    propagated error, a learned method's loss, any scale or zero point) instead of returning
 *    VQR_OK with a wrong result.
 *  - VQR_PARAM_REPORT_LOSS takes a vqr_report_level: the default 1 no longer computes the GPTQ
 *    family's rtn_proxy_loss (NaN; ask for it with 2), and GPTQ's proxy_loss now comes from its own
 *    sweep at no extra cost (vqr_report_level gives the formulas).
 */
#ifndef VQROUND_H
#define VQROUND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#  if defined(VQR_BUILD)
#    define VQR_API __declspec(dllexport)
#  else
#    define VQR_API __declspec(dllimport)
#  endif
#else
#  define VQR_API __attribute__((visibility("default")))
#endif

/* Enumerations have a fixed underlying type int under C++, so that any int a C caller passes is a
 * valid value of the type (the library then rejects unknown values with a status, never UB). */
#ifdef __cplusplus
#  define VQR_ENUM(name) enum name : int
#else
#  define VQR_ENUM(name) enum name
#endif

/* ============================================================================================ */
/* Version                                                                                       */
/* ============================================================================================ */

#define VQR_VERSION_MAJOR 0
#define VQR_VERSION_MINOR 5
#define VQR_VERSION_PATCH 0
#define VQR_VERSION_NUMBER (VQR_VERSION_MAJOR * 10000 + VQR_VERSION_MINOR * 100 + VQR_VERSION_PATCH)
#define VQR_VERSION_STR2(x) #x
#define VQR_VERSION_STR(x) VQR_VERSION_STR2(x)
#define VQR_VERSION_STRING \
  VQR_VERSION_STR(VQR_VERSION_MAJOR) "." VQR_VERSION_STR(VQR_VERSION_MINOR) "." VQR_VERSION_STR(VQR_VERSION_PATCH)

/* The library's VQR_VERSION_NUMBER. A program may check at start-up that the header it was
 * compiled against matches the library it runs with, as sqlite suggests:
 *   if (vqr_version_number() / 10000 != VQR_VERSION_MAJOR) refuse to run.
 * Since 0.1.0. */
VQR_API unsigned vqr_version_number(void);

/* The library's VQR_VERSION_STRING ("0.5.0"); static storage; never NULL. Since 0.1.0. */
VQR_API const char *vqr_version_string(void);

/* One line describing how the library was built: version, compiler, OpenMP, BLAS, the embedded
 * OpenCL kernels' hash and (since 0.5.0) every OpenCL device found, or why none was. Static
 * storage, computed at the first call; never NULL. Since 0.1.0. */
VQR_API const char *vqr_build_info(void);

/* ============================================================================================ */
/* Status codes and errors                                                                       */
/* ============================================================================================ */

/* Stable numbers: a code never changes meaning; retired codes stay listed as comments.
 * Since 0.1.0; codes added later say when. */
typedef VQR_ENUM(vqr_status) {
  VQR_OK = 0,
  VQR_ERR_INVALID_ARGUMENT = -1, /* NULL pointer, wrong shape, stride or dtype, mismatched sizes */
  VQR_ERR_UNSUPPORTED = -2,      /* a valid request this build or object cannot serve */
  VQR_ERR_OUT_OF_RANGE = -3,     /* a parameter value outside the bounds vqr_param_bounds gives */
  VQR_ERR_NONFINITE = -4,        /* NaN or Inf in an input, or an fp32 overflow inside (named) */
  VQR_ERR_NUMERICAL = -5,        /* a factorization failed even after all damping retries */
  VQR_ERR_CORRUPT = -6,          /* serialized data failed validation (magic, size, checksum) */
  VQR_ERR_BUFFER_TOO_SMALL = -7, /* a caller buffer is smaller than the size query says */
  VQR_ERR_OUT_OF_MEMORY = -8,    /* an allocation failed */
  VQR_ERR_CANCELLED = -9,        /* vqr_context_cancel() or a progress callback stopped the call */
  VQR_ERR_IO = -10,              /* reading or writing a file failed */
  VQR_ERR_INTERNAL = -11,        /* a bug in the library; please report the message */
  VQR_ERR_FORMAT = -12           /* a file violates its format (checkpoint, config, tokenizer): bad magic,
                                    header, JSON, dtype, shape, offsets, or a missing tensor. Since
                                    0.4.0 (0.3 reported these as VQR_ERR_CORRUPT) */
} vqr_status;

/* Fixed English text for a status code ("invalid argument"); never NULL; static storage.
 * Unknown codes give "unknown status". Since 0.1.0. */
VQR_API const char *vqr_status_string(vqr_status status);

/* The message of the most recent failing vqr_* call on the calling thread, or "" if none has
 * failed. Owned by the library; valid until the next failing call on this thread. Since 0.1.0. */
VQR_API const char *vqr_last_error(void);

/* ============================================================================================ */
/* Tensor views                                                                                  */
/* ============================================================================================ */

/* Element types of tensor views and of the buffers the library fills. Since 0.1.0. */
typedef VQR_ENUM(vqr_dtype) {
  VQR_DTYPE_F32 = 0,  /* IEEE binary32 */
  VQR_DTYPE_F16 = 1,  /* IEEE binary16, stored as uint16_t */
  VQR_DTYPE_BF16 = 2  /* bfloat16 (upper half of a binary32), stored as uint16_t */
} vqr_dtype;

/* A borrowed, read-only view of a row-major matrix: element (r, c) is at
 * ((const T *)data)[r * row_stride + c], where T is the dtype's storage type. row_stride counts
 * elements, not bytes; 0 means "rows are contiguous" (row_stride = cols). The library reads it
 * only during the call it is passed to. This struct's layout is frozen (an input, it has no
 * struct_size). A view whose extent, ((rows - 1) * row_stride + cols) elements, overflows int64 or
 * passes 2^47 bytes is refused with VQR_ERR_INVALID_ARGUMENT (since 0.5.0). Since 0.1.0. */
typedef struct vqr_tensor {
  const void *data;
  vqr_dtype dtype;
  int64_t rows;
  int64_t cols;
  int64_t row_stride;
} vqr_tensor;

/* Convenience initializer: vqr_tensor t = vqr_tensor_2d(ptr, VQR_DTYPE_F32, rows, cols, 0);
 * a static inline function of this header, not a library symbol. Since 0.1.0. */
static inline vqr_tensor vqr_tensor_2d(const void *data, vqr_dtype dtype, int64_t rows, int64_t cols,
                                       int64_t row_stride) {
  vqr_tensor t;
  t.data = data;
  t.dtype = dtype;
  t.rows = rows;
  t.cols = cols;
  t.row_stride = row_stride;
  return t;
}

/* ============================================================================================ */
/* Context: threads, seed, logging, progress, cancellation                                       */
/* ============================================================================================ */

/* Settings and callbacks for the calls that take one. Since 0.1.0. */
typedef struct vqr_context vqr_context;

/* Severity of a log line, and the filter of vqr_context_set_log. Since 0.1.0. */
typedef VQR_ENUM(vqr_log_level) {
  VQR_LOG_DEBUG = 0,
  VQR_LOG_INFO = 1,
  VQR_LOG_WARN = 2,
  VQR_LOG_ERROR = 3,
  VQR_LOG_NONE = 4 /* as a filter: deliver nothing */
} vqr_log_level;

/* Receives one log line (no trailing newline). `message` is valid only during the call.
 * Since 0.1.0. */
typedef void (*vqr_log_fn)(void *user_data, vqr_log_level level, const char *message);

/* What a long call reports as it goes. The library fills struct_size with sizeof(vqr_progress)
 * of its own version; fields may be appended in later versions, never reordered: read a field only
 * when struct_size covers it. Since 0.1.0. */
typedef struct vqr_progress {
  size_t struct_size;
  const char *stage;       /* "gptq", "rtn", "hessian", ... ("export" since 0.5.0); valid during
                              the callback only */
  int64_t done;            /* units finished (columns for GPTQ) */
  int64_t total;           /* units in all */
  double elapsed_seconds;  /* since the call began */
  /* Since 0.3.0: */
  double loss;             /* training stages ("adaround", "autoround", "vqround", "loraround"):
                              the objective at the step just done; "kmeans": its mean squared
                              distance; NaN for stages without one */
  /* Since 0.5.0: */
  double seconds;          /* the phase stages of vqr_model_quantize ("load", "forward",
                              "hessian", "sweep"): seconds the block spent in that phase; NaN for
                              every other stage */
  int64_t tokens;          /* "distill" (VQR_PARAM_E2E): calibration tokens trained on so far, for
                              a tokens-per-second rate; 0 for every other stage */
} vqr_progress;

/* Returns 0 to continue; any other value cancels the call, which then returns
 * VQR_ERR_CANCELLED. `progress` is valid only during the callback. Since 0.1.0. */
typedef int (*vqr_progress_fn)(void *user_data, const vqr_progress *progress);

/* Creates a context with default settings: all available cores (omp_get_max_threads()),
 * seed 0, no log callback, no progress callback.
 * out: written with the new context on success; the caller frees it with vqr_context_free.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (out is NULL), VQR_ERR_OUT_OF_MEMORY. Since 0.1.0. */
VQR_API vqr_status vqr_context_create(vqr_context **out);

/* Frees a context; NULL is a no-op. No call may be using the context. Since 0.1.0. */
VQR_API void vqr_context_free(vqr_context *ctx);

/* Number of threads for the library's own parallel regions (0 = all available cores, the
 * default). The BLAS uses its own thread pool, which the library does not reconfigure.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL), VQR_ERR_OUT_OF_RANGE (< 0 or > 4096).
 * Since 0.1.0. */
VQR_API vqr_status vqr_context_set_threads(vqr_context *ctx, int threads);

/* The thread count set above (0 = all cores). 0 for a NULL ctx, which stands for the default
 * settings (-1 before 0.5). Since 0.1.0. */
VQR_API int vqr_context_get_threads(const vqr_context *ctx);

/* Seed for every random choice made under this context (default 0); any value is valid.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL). Since 0.1.0. */
VQR_API vqr_status vqr_context_set_seed(vqr_context *ctx, uint64_t seed);

/* Installs a log callback receiving messages at `min_level` and above (fn NULL removes it).
 * user_data is passed back untouched and must stay valid while installed.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL or level out of range). Since 0.1.0. */
VQR_API vqr_status vqr_context_set_log(vqr_context *ctx, vqr_log_fn fn, void *user_data,
                                       vqr_log_level min_level);

/* Installs a progress callback (fn NULL removes it). It is called at most about ten times per
 * second, plus once when a stage completes and (since 0.5.0) once per finished phase of each
 * block of vqr_model_quantize. user_data is passed back untouched and must stay valid
 * while installed. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL). Since 0.1.0. */
VQR_API vqr_status vqr_context_set_progress(vqr_context *ctx, vqr_progress_fn fn, void *user_data);

/* Memory limit, in bytes, for what a call under ctx commits for data whose size comes from its
 * inputs: a model's weights as its file's header declares them (vqr_model_load_on), a Hessian's
 * n x n sums (vqr_hessian_create_on), a layer's working copies (vqr_quantize_layer), token sets
 * and logits. Each such allocation is estimated before it is made, and a call whose estimate
 * passes the limit fails with VQR_ERR_OUT_OF_MEMORY, the message giving the estimate and the limit,
 * having allocated nothing. bytes 0 (the default) = this machine's physical memory; calls that
 * take no context use that default. The limit bounds the sizes a hostile or mistaken input can
 * request; it is not an accounting of every byte (bounded work buffers are not counted).
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL), VQR_ERR_OUT_OF_RANGE (bytes < 0).
 * Since 0.5.0. */
VQR_API vqr_status vqr_context_set_memory_limit(vqr_context *ctx, int64_t bytes);

/* The limit in force under ctx: the value set, or physical memory when none is (0 for NULL).
 * Cannot fail. Since 0.5.0. */
VQR_API int64_t vqr_context_get_memory_limit(const vqr_context *ctx);

/* Requests cancellation; safe from any thread, including signal-free helper threads while
 * another thread is inside a call on ctx. The running call (or, if none runs, the next
 * cancellable call) returns VQR_ERR_CANCELLED as soon as it reaches a check point (GPTQ checks
 * once per column block) and clears the request. NULL is a no-op. Since 0.1.0. */
VQR_API void vqr_context_cancel(vqr_context *ctx);

/* Where a context's heavy operations run: the GEMM/SYRK of the Hessian accumulation, of the
 * GPTQ-family cross-block updates, of k-means and the learned-rounding objectives, and the model's
 * matmuls and attention products. Since 0.5.0.
 *  - VQR_BACKEND_CPU (the default): OpenBLAS + LAPACKE + OpenMP.
 *  - VQR_BACKEND_OPENCL: an OpenCL device; the named one, else the first GPU, else the first
 *    device of any type (CPU devices such as PoCL's included). Cholesky and the triangular
 *    inverse of the damped Hessian stay on the host (LAPACKE). Results agree with the CPU's to the
 *    rounding of a reordered fp32 sum (every kernel's parity test states its bound).
 *  - VQR_BACKEND_AUTO: the named device or the first GPU; otherwise the CPU, with an Info log
 *    line saying why (no platform, no GPU, kernels that do not build). */
typedef VQR_ENUM(vqr_backend) {
  VQR_BACKEND_CPU = 0,
  VQR_BACKEND_OPENCL = 1,
  VQR_BACKEND_AUTO = 2
} vqr_backend;

/* Sets the context's backend. device: NULL or "" takes the VQR_OPENCL_PLATFORM and
 * VQR_OPENCL_DEVICE environment variables; else "D" or "P:D", where P (platform) and D (device)
 * are each a decimal index or a case-insensitive substring of the name or vendor (D counts within
 * platform P when P is given, else in vqr_device_get's order). The device's kernels are built on
 * first use in the process (seconds on some drivers) and shared with every context that picks it.
 * Log lines go to the context's log callback: install it first to see the choice.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (ctx NULL, backend not a vqr_backend),
 * VQR_ERR_UNSUPPORTED (VQR_BACKEND_OPENCL with no usable device, or kernels that fail to build:
 * the message names the reason and carries the compiler's log); on error the backend is unchanged.
 * Since 0.5.0. */
VQR_API vqr_status vqr_context_set_backend(vqr_context *ctx, vqr_backend backend, const char *device);

/* What the context computes with, e.g. "cpu: BLAS OpenBLAS 0.3.21 ... + LAPACKE" or
 * "opencl: OpenCL NVIDIA H100 (NVIDIA CUDA, gpu)". Valid until the backend changes or the context
 * is freed; NULL ctx describes the default. Never NULL. Since 0.5.0. */
VQR_API const char *vqr_context_backend(const vqr_context *ctx);

/* One OpenCL device, as vqr_device_get describes it. Output struct (struct_size rule above).
 * Since 0.5.0. */
typedef struct vqr_device_info {
  size_t struct_size;
  int index;                 /* position in vqr_device_get's order */
  int platform;              /* platform index */
  int device;                /* index within its platform */
  char platform_name[128];   /* NUL-terminated, truncated to fit */
  char name[128];
  char vendor[128];
  char version[128];         /* "OpenCL 3.0 ..." */
  char type[16];             /* "gpu", "cpu", "accelerator" or "other" */
  uint64_t global_mem_bytes;
  uint64_t max_alloc_bytes;
  int compute_units;
  int max_clock_mhz;
  int fp64;                  /* 1 when the device computes in double (cl_khr_fp64) */
} vqr_device_info;

/* Number of OpenCL devices of every platform; 0 when there is no OpenCL driver. Since 0.5.0. */
VQR_API int vqr_device_count(void);

/* Describes device `index` (0 <= index < vqr_device_count()). Returns VQR_OK,
 * VQR_ERR_INVALID_ARGUMENT (out NULL), VQR_ERR_OUT_OF_RANGE (index). Since 0.5.0. */
VQR_API vqr_status vqr_device_get(int index, vqr_device_info *out);

/* ============================================================================================ */
/* Configuration                                                                                 */
/* ============================================================================================ */

/* A method and its parameters (the vqr_param values below). Since 0.1.0. */
typedef struct vqr_config vqr_config;

/* Quantization methods (VQR_PARAM_METHOD). Since 0.1.0; values added later say when. */
typedef VQR_ENUM(vqr_method) {
  VQR_METHOD_RTN = 0,         /* round to nearest on the configured grid (VQR_PARAM_GRID) */
  VQR_METHOD_GPTQ = 1,        /* GPTQ: columns quantized one by one in a blocked sweep, each
                                 column's error spread over the columns not yet quantized through
                                 the Cholesky factor of the damped H^-1; needs a Hessian (D, if
                                 present, is unused unless VQR_PARAM_EXACT_TARGET is set) */
  VQR_METHOD_GPTAQ = 2,       /* GPTAQ as the official code runs it: GPTQ's sweep plus the
                                 input-asymmetry term alpha triu1(D U^T) U (U the upper Cholesky
                                 factor of H^-1, triu1 the strict upper triangle) with alpha 0.25,
                                 outer mode quantized. Needs an asymmetric Hessian. Since 0.2.0. */
  VQR_METHOD_RESCOMP = 3,     /* ResComp as the official code runs it: GPTAQ's sweep with alpha =
                                 alpha2 = 0.25, outer mode prequant_clamped at >= 3 bits and
                                 quantized at 2 bits; the compensation-aware term is evaluated in
                                 closed form from D and U (no extra n x n matrix). Needs an
                                 asymmetric Hessian. Since 0.2.0. */
  VQR_METHOD_GPTAQ_PAPER = 4, /* GPTAQ as the paper writes it: alpha 1, outer mode prequant.
                                 Needs an asymmetric Hessian. Since 0.2.0. */
  /* Learned rounding (since 0.3.0). Each trains rounding
   * parameters against the layer objective tr((W' - W) H (W' - W)^T) (minus 2 tr((W' - W) D^T W^T)
   * when the Hessian has D), one m x n x n product per step, and returns ordinary integer codes
   * on the grid of VQR_PARAM_GRID. All need a Hessian. */
  VQR_METHOD_ADAROUND = 5,    /* AdaRound: one rectified-sigmoid latent per weight (soft rounding
                                 h = clamp(1.2 sigmoid(v) - 0.1, 0, 1)), regularizer annealed
                                 20 -> 2, Adam */
  VQR_METHOD_AUTOROUND = 6,   /* AutoRound/SignRound, layer-wise:
                                 rounding offset V in [-0.5, 0.5] plus per-group min/max clipping
                                 scales, SignSGD with linear decay, best iteration kept. Grids:
                                 VQR_GRID_GPTQ asymmetric (variant A), VQR_GRID_GPTQ symmetric
                                 (variant C) and VQR_GRID_FULL_RANGE (variant B, AutoRound's own
                                 default) */
  VQR_METHOD_VQROUND = 7,     /* VQRound: AdaRound latents drawn from a K x D codebook fitted by
                                 k-means; only the codebook is trained */
  VQR_METHOD_LORAROUND = 8    /* LoRA-rounding, our own low-rank baseline (no paper): rounding
                                 offset V = 0.5 tanh(A B^T), rank r, straight-through rounding,
                                 Adam */
} vqr_method;

/* Where a learned method starts (VQR_PARAM_INIT). Since 0.3.0. */
typedef VQR_ENUM(vqr_init) {
  VQR_INIT_RTN = 0,  /* round to nearest on the configured grid */
  VQR_INIT_GPTQ = 1  /* GPTQ's own rounding decisions (AdaRound and VQRound only): with u = w / s
                        the error-compensated weight on the grid, base = floor(u) and soft
                        rounding clamp(u - floor(u) - e, 0, 1), e GPTQ's scaled column error,
                        whose hard rounding is GPTQ's decision */
} vqr_init;

/* Annealing of the rounding regularizer's exponent beta (VQR_PARAM_BETA_SCHEDULE). The
 * regularizer is off during the first `warmup` share of the steps. Since 0.3.0. */
typedef VQR_ENUM(vqr_beta_schedule) {
  VQR_BETA_PRESET = -1,      /* AdaRound: COSINE; VQRound: HOLD_LINEAR */
  VQR_BETA_COSINE = 0,       /* AIMET / PyTorch ao: end + (start - end)(1 + cos(pi r)) / 2 with
                                r = (t - warmup T) / ((1 - warmup) T) */
  VQR_BETA_LINEAR = 1,       /* BRECQ: end + (start - end) max(0, 1 - r) */
  VQR_BETA_HOLD_LINEAR = 2   /* VQRound reference: start while t <= hold T, then
                                start - (start - end) t / T (it jumps at the end of the hold) */
} vqr_beta_schedule;

/* What one unit of VQR_PARAM_REG_WEIGHT is (VQR_PARAM_REG_UNITS). Since 0.5.0. */
typedef VQR_ENUM(vqr_reg_units) {
  VQR_REG_OBJECTIVE = 0,  /* the objective's units, tr(dW H dW^T) with H = (2/T) X X^T: the
                             references' lambda = 0.01 (AIMET, BRECQ, VQRound), whose pull then
                             depends on the scale of the weights and inputs; the behaviour
                             before 0.5.0 */
  VQR_REG_GRID_STEP = 1   /* the mean over the weights of s^2 H_jj, the cost of moving one
                             weight by one grid step: lambda is the same share of a flip's cost
                             on every layer (default; presets AdaRound and VQRound 10) */
} vqr_reg_units;

/* Which weights the cross-block update of the GPTAQ/ResComp sweep uses in its asymmetry terms
 * (the update of the columns after a block of 128, VQR_PARAM_BLOCK_SIZE). VQR_OUTER_PRESET lets
 * the method choose. Since 0.2.0. */
typedef VQR_ENUM(vqr_outer_mode) {
  VQR_OUTER_PRESET = -1,
  VQR_OUTER_QUANTIZED = 0,        /* the quantized values Q (official GPTAQ; ResComp "org") */
  VQR_OUTER_PREQUANT = 1,         /* the pre-quantization values w (mathematically consistent:
                                     equals the exact per-column least-squares update) */
  VQR_OUTER_PREQUANT_CLAMPED = 2  /* w clamped into the column's representable range (ResComp
                                     "allw"; the range is that of the column's own quantizer) */
} vqr_outer_mode;

/* Quantizer grids (VQR_PARAM_GRID): code c = clamp(round(x / s) + z, 0, 2^b - 1), dequantized
 * s (c - z), one scale s and zero-point z per row and group. Since 0.1.0. */
typedef VQR_ENUM(vqr_grid) {
  VQR_GRID_GPTQ = 0,   /* unsigned codes with zero-point; the range [min(x, 0), max(x, 0)] always
                          contains 0 ([0, 0] becomes [-1, 1]); asym: s = (max - min) / (2^b - 1),
                          z = round(-min / s);
                          sym: s = 2 absmax / (2^b - 1), z = 2^(b-1). The checkpoint grid of IST
                          GPTQ, AutoGPTQ and GPTQModel. Default. */
  VQR_GRID_QUAROT = 1, /* the QuaRot WeightQuantizer of the GPTAQ and ResComp repositories;
                          asym: s = max(max - min, 1e-5) / (2^b - 1), z = round(-min / s); sym:
                          s = max(absmax, 1e-5) / (2^(b-1) - 1), codes in [-2^(b-1), 2^(b-1) - 1]
                          stored offset by z = 2^(b-1). */
  VQR_GRID_FULL_RANGE = 2 /* AutoRound's default "full range" symmetric grid (llama.cpp Q4_0
                          style): s = m / 2^(b-1) with m
                          the signed extreme of larger magnitude, so that extreme maps to code
                          -2^(b-1) (s < 0 when the maximum wins, ties included), |s| >= 1e-5; codes [-2^(b-1), 2^(b-1) - 1]
                          stored offset by z = 2^(b-1), so all 2^b levels are used. Always
                          symmetric (VQR_PARAM_SYM is ignored). Since 0.3.0. */
} vqr_grid;

/* What vqr_report measures (VQR_PARAM_REPORT_LOSS). Since 0.5.0 (the values 0 and 1 since 0.1.0).
 * Per method, with m x n the layer and H the Hessian:
 *  - GPTQ (and GPTAQ/ResComp/GPTAQ_PAPER run with alpha = alpha2 = 0) on a symmetric Hessian (no
 *    D; see the next item otherwise) at PROXY: proxy_loss falls out
 *    of the sweep at no BLAS cost. With Hd = H + lambda I the damped Hessian and U the upper Cholesky
 *    factor of Hd^-1, the OBS error of column q is err_q = (w_q - Q_q) / U_qq (w_q the compensated
 *    value when the sweep reaches q), and W - Q = err U, so sum_q err_q^2 = tr(dW Hd dW^T) exactly in
 *    exact arithmetic; the report gives tr(dW H dW^T) = sum err_q^2 - lambda ||dW||_F^2 (dead
 *    columns excluded: their weights are 0 on both sides), one O(m n) pass. In fp32 it agrees with a
 *    direct evaluation to about sqrt(n) ulps of the compensated weights (1e-5 relative typically).
 *  - GPTAQ, ResComp, GPTAQ_PAPER (the asymmetry terms break W - Q = err U), GPTQ with
 *    VQR_PARAM_EXACT_TARGET (the sweep's errors are against the moved target) and GPTQ on an
 *    asymmetric Hessian (the alpha = 0 member of that family, reporting exactly what GPTAQ with
 *    D = 0 reports) at PROXY:
 *    proxy_loss = ||(dW J) L||_F^2 - lambda ||dW||_F^2 through the Cholesky factor J Hd J = L L^T,
 *    one m x n x n triangular product (TRMM); asym_loss adds one m x n x n GEMM (W D).
 *  - RTN at PROXY: proxy_loss through the Cholesky factor as above (one n^3/3 factorization and one
 *    TRMM); rtn_proxy_loss is the same number.
 *  - The GPTQ family's rtn_proxy_loss needs RTN's own dW: one RTN quantization and one more TRMM,
 *    computed only at PROXY_AND_RTN (NaN at PROXY).
 *  - The learned methods compute proxy_loss, init_proxy_loss and rtn_proxy_loss from their layer
 *    objective whatever the level. */
typedef VQR_ENUM(vqr_report_level) {
  VQR_REPORT_NONE = 0,            /* no losses: proxy_loss, rtn_proxy_loss and asym_loss are NaN */
  VQR_REPORT_PROXY = 1,           /* proxy_loss and asym_loss (the default) */
  VQR_REPORT_PROXY_AND_RTN = 2    /* also rtn_proxy_loss, the RTN reference on the same grid */
} vqr_report_level;

/* Parameters, numbered explicitly and never reused. Each comment gives type, range and default;
 * vqr_param_bounds() returns the same. Integers are set with vqr_config_set_int, reals with
 * vqr_config_set_float; the other setter fails with VQR_ERR_INVALID_ARGUMENT. Since 0.1.0;
 * parameters added later say when. */
typedef VQR_ENUM(vqr_param) {
  /* --- what to run --- */
  VQR_PARAM_METHOD = 100,        /* int, a vqr_method; default VQR_METHOD_RTN */
  /* --- the quantizer grid (vqr_grid) --- */
  VQR_PARAM_BITS = 200,          /* int, 2..8; default 4. Packing supports 2, 3, 4, 8. */
  VQR_PARAM_GROUP_SIZE = 201,    /* int, -1 (one group per output row) or 1..2^30; default -1.
                                    Groups run along the input dimension. */
  VQR_PARAM_ALLOW_PARTIAL_GROUP = 202, /* int 0/1, default 0. When the group size does not divide
                                    the input width: 0 = error VQR_ERR_INVALID_ARGUMENT, 1 = the
                                    last group is shorter (GPTQ checkpoints then need the exact
                                    g_idx written out). */
  VQR_PARAM_SYM = 203,           /* int 0/1, default 0 (asymmetric, with a zero-point) */
  VQR_PARAM_GRID = 204,          /* int, a vqr_grid; default VQR_GRID_GPTQ */
  VQR_PARAM_MSE = 205,           /* int 0/1, default 0: search a clipping ratio per row/group that
                                    minimizes sum |q(x) - x|^norm over the candidate ranges
                                    p [min, max] below */
  VQR_PARAM_MSE_NORM = 206,      /* float, 1.0..8.0, default 2.4 */
  VQR_PARAM_MSE_GRID = 207,      /* int, 1..10000, default 100 */
  VQR_PARAM_MSE_MAXSHRINK = 208, /* float, 0.0..1.0, default 0.8: candidates p = 1 - i/grid for
                                    i < floor(maxshrink * grid) */
  VQR_PARAM_SCALE_DTYPE = 209,   /* int, a vqr_dtype, default VQR_DTYPE_F32. F16 / BF16: every grid
                                    scale is rounded (nearest-even) to that type before the codes
                                    are chosen, so a checkpoint storing fp16 scales (GPTQ,
                                    compressed-tensors, GGUF) dequantizes to exactly the weights
                                    the algorithm optimized. Since 0.4.0. */
  /* --- the GPTQ-family sweep --- */
  VQR_PARAM_ACT_ORDER = 300,     /* int 0/1, default 0: process columns by descending diag(H)
                                    (stable sort) */
  VQR_PARAM_STATIC_GROUPS = 301, /* int 0/1, default 0: group parameters fixed from the original
                                    weights in original column order */
  VQR_PARAM_DAMP = 302,          /* float, 0.0..10.0, default 0.01: lambda = damp * mean(diag H) */
  VQR_PARAM_DAMP_INCREMENT = 303,/* float, 0.0..10.0, default 0.01: when the Cholesky
                                    factorization fails, retry with damp + inc, damp + 3 inc,
                                    damp + 7 inc, ... (doubling steps) */
  VQR_PARAM_DAMP_ATTEMPTS = 304, /* int, 1..64, default 12: factorizations tried in all */
  VQR_PARAM_BLOCK_SIZE = 305,    /* int, 1..4096, default 128: columns per lazy-update block.
                                    Does not change the result beyond fp32 rounding. */
  VQR_PARAM_STALE_GROUPS = 306,  /* int 0/1, default 0. With dynamic groups smaller than the
                                    block, the reference implementations read a group's range from
                                    weights that lack the in-block updates. 0 =
                                    read the fully updated weights (block-size invariant, better);
                                    1 = reproduce the reference quirk. */
  /* --- reporting --- */
  VQR_PARAM_REPORT_LOSS = 400,   /* int, a vqr_report_level (0..2), default 1: which losses
                                    vqr_report carries; the levels say what each costs. Value 2
                                    since 0.5.0; before it, 1 also computed rtn_proxy_loss. */
  /* --- asymmetric calibration: GPTAQ / ResComp; since 0.2.0 --- */
  /* ALPHA, ALPHA2 and OUTER apply to GPTAQ, RESCOMP and GPTAQ_PAPER; RTN and GPTQ ignore them
     (their report shows 0, 0, quantized), so one config can serve several methods. */
  VQR_PARAM_ALPHA = 500,         /* float, -1 or 0..100, default -1 = the method's preset (0.25
                                    for GPTAQ and ResComp, 1 for GPTAQ_PAPER): the weight of the
                                    input-asymmetry term, P = alpha triu1(D U^T) U */
  VQR_PARAM_ALPHA2 = 501,        /* float, -1 or 0..100, default -1 = preset (0 for GPTAQ, 0.25
                                    for ResComp): the weight of the compensation-aware term */
  VQR_PARAM_OUTER = 502,         /* int, a vqr_outer_mode, default VQR_OUTER_PRESET */
  VQR_PARAM_EXACT_TARGET = 503,  /* int 0/1, default 0. Our own ablation (in none of the
                                    papers): run plain GPTQ on the pre-corrected target
                                    W* = W (I + D H_damped^-1), the continuous minimizer of the
                                    asymmetric objective. Method GPTQ with an asymmetric Hessian. */
  /* --- learned rounding (ADAROUND, AUTOROUND, VQROUND, LORAROUND); since 0.3.0 --- */
  /* -1 selects the method's preset; other methods ignore these parameters. The random choices
     (k-means seeding and sampling, LoRA init) follow the context's seed. */
  VQR_PARAM_STEPS = 600,         /* int, -1 or 0..10^7, default -1: optimizer steps (presets:
                                    AdaRound 10000, AutoRound 200, VQRound 5000, LoRA 1000).
                                    0 returns the initialization. */
  VQR_PARAM_LR = 601,            /* float, -1 or 0..100, default -1: learning rate (presets:
                                    AdaRound 1e-3, AutoRound 1/steps, VQRound 1e-2, LoRA 1e-2) */
  VQR_PARAM_INIT = 602,          /* int, a vqr_init, default VQR_INIT_RTN */
  VQR_PARAM_REG_WEIGHT = 603,    /* float, -1 or 0..10^6, default -1 = the preset: lambda of the
                                    rounding regularizer sum(1 - |2h - 1|^beta) (AdaRound,
                                    VQRound), in VQR_PARAM_REG_UNITS (presets: 3 grid steps;
                                    0.01 with VQR_REG_OBJECTIVE, the references') */
  VQR_PARAM_REG_MEAN = 604,      /* int 0/1, default 0: 1 = divide the regularizer by the number
                                    of weights, so its weight does not grow with the layer (the
                                    references sum it) */
  VQR_PARAM_BETA_START = 605,    /* float, 1..1000, default 20 */
  VQR_PARAM_BETA_END = 606,      /* float, 1..1000, default 2 */
  VQR_PARAM_BETA_SCHEDULE = 607, /* int, a vqr_beta_schedule, default VQR_BETA_PRESET */
  VQR_PARAM_WARMUP = 608,        /* float, -1 or 0..1, default -1: share of the steps before the
                                    regularizer starts (AdaRound 0.2, VQRound 0.1) */
  VQR_PARAM_BETA_HOLD = 609,     /* float, 0..1, default 0.1: VQR_BETA_HOLD_LINEAR's hold share */
  VQR_PARAM_BETA_FINAL_HOLD = 612, /* float, -1 or 0..0.9, default -1 = the preset: the beta
                                    schedule runs over the first (1 - this) of the steps and beta
                                    stays at VQR_PARAM_BETA_END for the rest (presets: 0 layer by
                                    layer, the references' schedules, which end at the last step;
                                    0.3 with VQR_PARAM_E2E). Since 0.5.0 */
  VQR_PARAM_KEEP_BEST = 610,     /* int 0/1, default 1. AutoRound and LoRA-rounding train through
                                    the hard rounding and keep the parameters of the step with the
                                    lowest objective (AutoRound's reference rule). AdaRound and
                                    VQRound train a soft relaxation; with 1 their hard rounding is
                                    scored at 20 evenly spaced steps and the best is kept, or the
                                    initialization when none beats it (0 = the final hard
                                    rounding, as the references) */
  VQR_PARAM_REG_UNITS = 611,     /* int, a vqr_reg_units, default VQR_REG_GRID_STEP. The
                                    references' schedule: VQR_REG_OBJECTIVE with REG_WEIGHT -1
                                    (= 0.01). Since 0.5.0 */
  VQR_PARAM_VQ_DIM = 620,        /* int, 1..16, default 8: D, latents per codebook vector, taken
                                    consecutively along the input dimension (row-major, padded) */
  VQR_PARAM_CODEBOOK_SIZE = 621, /* int, 1..65536, default 4096: K (capped at the vector count) */
  VQR_PARAM_KMEANS_ITERS = 622,  /* int, 0..10000, default 5 (since 0.5.0; before: 500, the
                                    reference's): Lloyd iterations at most. Lloyd stops earlier
                                    when no assignment changes (which changes nothing) or, with
                                    VQR_PARAM_KMEANS_TOL > 0, when few change; so 500 with the
                                    default tol runs until fewer than 0.1 % change, not 500
                                    iterations (set tol 0 for the reference's run). Every vector is
                                    then assigned to its nearest codeword: 2 K D flops per vector,
                                    most of the default setup's time (spec vqround §1.4 step 5) */
  VQR_PARAM_KMEANS_SAMPLE = 623, /* int, 1..10^6, default 32 (since 0.5.0; before: 256, faiss's
                                    max_points_per_centroid): k-means trains on at most this many
                                    points per centroid, a seeded sample */
  VQR_PARAM_SIGN_CONSISTENT = 624, /* int 0/1, default 0: assign each vector to the nearest codeword
                                    with its sign pattern, seeding one codeword per occurring
                                    pattern when K allows, so the initialization keeps its
                                    rounding decisions (plain k-means can flip a latent's sign and
                                    so a GPTQ decision); 0 = plain nearest (the reference) */
  VQR_PARAM_KMEANS_TOL = 625,    /* float, 0..1, default 0.001: k-means also stops, after moving
                                    the centroids once more, when an iteration changes fewer than
                                    this share of the training assignments (0 = only when none
                                    changes; the reference runs all VQR_PARAM_KMEANS_ITERS).
                                    Since 0.5.0 */
  VQR_PARAM_RANK = 630,          /* int, 1..4096, default 8: LoRA-rounding rank r */
  VQR_PARAM_MINMAX_TUNING = 640, /* int 0/1, default 1: AutoRound trains the min/max scales */
  VQR_PARAM_MINMAX_LR = 641,     /* float, -1 or 0..100, default -1 = the learning rate */
  VQR_PARAM_BLOCKWISE = 642,     /* int 0/1, default 0: AutoRound reconstructs each decoder block's
                                    output (its seven linears trained together, the block's
                                    backward pass) instead of each layer's; vqr_model_quantize
                                    only (a single layer has no block: VQR_ERR_UNSUPPORTED).
                                    Since 0.5.0 */
  VQR_PARAM_BLOCK_BATCH = 643,   /* int, 1..4096, default 8: calibration sequences per block-wise
                                    step (the reference's batch size). Since 0.5.0 */
  /* --- end-to-end distillation (ADAROUND, VQROUND; vqr_model_quantize only); since 0.5.0 --- */
  VQR_PARAM_E2E = 644,           /* int 0/1, default 0: after every layer is initialized (VQR_PARAM_INIT,
                                    k-means for VQRound; no layer-wise training), all layers'
                                    rounding parameters are trained together on the output
                                    distribution of the full-precision model: tau^2 KL(teacher ||
                                    student) plus the rounding regularizer, Adam, VQR_PARAM_STEPS
                                    steps (spec vqround §3). The regularizer weight
                                    VQR_PARAM_REG_WEIGHT is then in the summed KL's units
                                    (VQR_PARAM_REG_UNITS does not apply), preset 0.01, the
                                    reference's; the preset beta schedule is VQR_BETA_COSINE over
                                    the first 70% of the steps (VQR_PARAM_BETA_FINAL_HOLD 0.3;
                                    VQR_BETA_HOLD_LINEAR with 0 is the reference's). VQR_PARAM_STEPS = 0
                                    returns the initialization bit for bit. A single layer has no
                                    model: vqr_quantize_layer returns VQR_ERR_UNSUPPORTED */
  VQR_PARAM_TEACHER_TOPK = 645,  /* int, 1..2^24, default 64: the teacher is kept as its k most
                                    probable tokens per position plus the log-mass of the rest
                                    (capped at the vocabulary) */
  VQR_PARAM_TEMPERATURE = 646,   /* float, 0.01..100, default 2.0: the distillation temperature tau */
  VQR_PARAM_E2E_BATCH = 647,     /* int, 1..4096, default 1 (the reference's): calibration
                                    sequences per step; the loss is their mean */
  VQR_PARAM_EVAL_EVERY = 648,    /* int, 0..10^7, default 100: the hard-rounded student is scored
                                    on the held-out sequences every this many steps (0 = only at
                                    the end); the best scored state is kept (VQR_PARAM_KEEP_BEST),
                                    the initialization included */
  VQR_PARAM_HOLDOUT = 649,       /* int, -1..10^6, default -1 = an eighth of the calibration
                                    sequences (at least one when there are two or more): the last
                                    this many sequences are never trained on (nor calibrated on)
                                    and score the student */
  VQR_PARAM_KL_MEAN = 650,       /* int 0/1, default 0: the KL summed over positions (the
                                    reference's "batchmean" of one sequence); 1 = per token */
  VQR_PARAM_TEACHER_ONLINE = 651, /* int 0/1, default 0: the full-precision model runs beside the
                                    student at every step (a second mapping of the checkpoint)
                                    instead of a stored top-k teacher: no teacher memory or file,
                                    one more forward per sequence */
  VQR_PARAM_TRUE_SEQUENTIAL = 660 /* int 0/1, default 1: whole-model quantization takes each
                                    block's linears in the true-sequential groups (q/k/v, o,
                                    w1/w3, w2; OPT: q/k/v, out_proj, fc1, fc2), each group's
                                    statistics from the block with the earlier groups already
                                    quantized; 0 = all of a block's linears at once, every
                                    statistic from the unquantized block (the order of the GPTQ
                                    reference's OPT script). Read from the model-wide
                                    configuration only. Since 0.5.0 */
} vqr_param;

/* Type, range and default of a parameter. An output struct: set struct_size = sizeof(vqr_bounds)
 * before the call (the struct_size rule, since 0.5.0). Since 0.1.0. */
typedef struct vqr_bounds {
  size_t struct_size;   /* in: sizeof the caller's struct (0 reads as the 0.4 size);
                           out: the bytes written */
  int is_float;         /* 1: set with vqr_config_set_float; 0: vqr_config_set_int */
  double lower;         /* inclusive */
  double upper;         /* inclusive */
  double default_value;
} vqr_bounds;

/* Fills *out with the bounds of `param`: min(out->struct_size, sizeof(vqr_bounds)) bytes, the
 * rest of the caller's struct untouched. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (out NULL,
 * out->struct_size between 1 and sizeof(size_t) - 1), VQR_ERR_UNSUPPORTED (unknown param).
 * Since 0.1.0. */
VQR_API vqr_status vqr_param_bounds(vqr_param param, vqr_bounds *out);

/* The parameter's short name ("bits", "group_size", ...), or NULL for an unknown parameter.
 * Static storage. Cannot fail. Since 0.1.0. */
VQR_API const char *vqr_param_name(vqr_param param);

/* Short names of methods ("rtn", "gptq", "gptaq", "rescomp", "gptaq_paper", "adaround",
 * "autoround", "vqround", "loraround") and grids ("gptq", "quarot", "full_range"); NULL for values
 * out of range. Static storage. Cannot fail. Since 0.4.0 (both). */
VQR_API const char *vqr_method_name(vqr_method method);
VQR_API const char *vqr_grid_name(vqr_grid grid);

/* What a method needs and its presets: the facts the library itself switches on, so that a
 * program can plan a run (which statistics to collect, whether the full-precision stream runs,
 * how many steps a learned method takes) without a copy of the table. An output struct: set
 * struct_size = sizeof(vqr_method_facts) before the call. Since 0.5.0. */
typedef struct vqr_method_facts {
  size_t struct_size;        /* in: sizeof the caller's struct; out: the bytes written */
  const char *name;          /* vqr_method_name's; static storage */
  const char *stage;         /* the progress stage of its main loop ("rtn", "gptq", "adaround", ...);
                                static storage */
  int is_sweep;              /* 1: the GPTQ-family blocked sweep (GPTQ, GPTAQ, ResComp, GPTAQ_PAPER) */
  int is_learned;            /* 1: learned rounding (AdaRound, AutoRound, VQRound, LoRA-rounding),
                                which trains for VQR_PARAM_STEPS steps */
  int needs_hessian;         /* 1: vqr_quantize_layer refuses a NULL Hessian */
  int needs_asymmetric;      /* 1: the Hessian must carry D (VQR_HESSIAN_ASYMMETRIC) */
  int needs_fp_stream;       /* 1: vqr_model_quantize runs the full-precision stream beside the
                                quantized one for this method (twice the calibration hidden states
                                and the block's original weights kept); AutoRound uses D when given */
  int accepts_exact_target;  /* 1: VQR_PARAM_EXACT_TARGET may be set (and then needs the fp stream) */
  int accepts_gptq_init;     /* 1: VQR_PARAM_INIT = VQR_INIT_GPTQ is defined for it */
  /* Presets that VQR_PARAM_* = -1 selects (0 where the method has none): */
  int64_t preset_steps;      /* VQR_PARAM_STEPS */
  double preset_lr;          /* VQR_PARAM_LR; 0 for AutoRound, whose SignSGD rate is 1/steps
                                (2/steps from 1000 steps at <= 3 bits) */
  double preset_warmup;      /* VQR_PARAM_WARMUP */
  double preset_alpha;       /* VQR_PARAM_ALPHA (asymmetric sweeps) */
  double preset_alpha2;      /* VQR_PARAM_ALPHA2 */
  int preset_outer;          /* VQR_PARAM_OUTER at >= 3 bits, a vqr_outer_mode */
  int preset_outer_2_bits;   /* VQR_PARAM_OUTER at 2 bits */
} vqr_method_facts;

/* Fills *out with the facts of `method`: min(out->struct_size, sizeof(vqr_method_facts)) bytes,
 * the rest of the caller's struct untouched. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (out NULL,
 * out->struct_size smaller than sizeof(size_t)), VQR_ERR_UNSUPPORTED (a method this version does
 * not know). Since 0.5.0. */
VQR_API vqr_status vqr_method_info(vqr_method method, vqr_method_facts *out);

/* Creates a configuration holding every default. out: the new object, freed by
 * vqr_config_free. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (out NULL), VQR_ERR_OUT_OF_MEMORY.
 * Since 0.1.0. */
VQR_API vqr_status vqr_config_create(vqr_config **out);

/* Copies a configuration (read only) into a new object *out, freed by vqr_config_free.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (config or out NULL), VQR_ERR_OUT_OF_MEMORY.
 * Since 0.1.0. */
VQR_API vqr_status vqr_config_clone(const vqr_config *config, vqr_config **out);

/* Frees a configuration; NULL is a no-op. Since 0.1.0. */
VQR_API void vqr_config_free(vqr_config *config);

/* Sets an integer parameter. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (config NULL, or the
 * parameter is a float), VQR_ERR_UNSUPPORTED (unknown param), VQR_ERR_OUT_OF_RANGE (value
 * outside the bounds, or a group size of 0 or below -1). The config is unchanged on error.
 * Since 0.1.0. */
VQR_API vqr_status vqr_config_set_int(vqr_config *config, vqr_param param, int64_t value);

/* Sets a float parameter. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (config NULL, or the
 * parameter is an integer), VQR_ERR_UNSUPPORTED (unknown param), VQR_ERR_OUT_OF_RANGE (value
 * outside the bounds, or NaN). The config is unchanged on error. Since 0.1.0. */
VQR_API vqr_status vqr_config_set_float(vqr_config *config, vqr_param param, double value);

/* Reads an integer parameter into *out. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (config or out
 * NULL, or the parameter is a float), VQR_ERR_UNSUPPORTED (unknown param). Since 0.1.0. */
VQR_API vqr_status vqr_config_get_int(const vqr_config *config, vqr_param param, int64_t *out);

/* Reads a float parameter into *out. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (config or out
 * NULL, or the parameter is an integer), VQR_ERR_UNSUPPORTED (unknown param). Since 0.1.0. */
VQR_API vqr_status vqr_config_get_float(const vqr_config *config, vqr_param param, double *out);

/* ============================================================================================ */
/* Hessian accumulator                                                                           */
/* ============================================================================================ */

/* Streaming accumulator of the layer statistic H = (2/T) sum_t x_t x_t^T over T calibration
 * tokens x_t (rows of the batches passed in; T counts tokens, not sequences). The library keeps
 * the unnormalized sum S = sum_t x_t x_t^T (fp32 by default, accumulated with SSYRK) and the
 * token count; memory is n x n values whatever the number of tokens. The scale 2/T does not change
 * any quantization result; it sets the units of the reported proxy losses, which are then
 * 2 x the mean squared output error per token. Because only sums are kept, the result does not
 * depend on how the tokens are split into batches (beyond fp32 rounding), and accumulators filled
 * on different machines can be merged. Since 0.1.0. */
typedef struct vqr_hessian vqr_hessian;

/* Flags for vqr_hessian_create. */
#define VQR_HESSIAN_F64 1u        /* accumulate in fp64 (DSYRK/DGEMM): slower, for very large T.
                                     Since 0.1.0. */
#define VQR_HESSIAN_ASYMMETRIC 2u /* also accumulate D = (2/T) sum_t (x_fp,t - x_q,t) x_q,t^T for
                                     GPTAQ/ResComp, from paired batches (vqr_hessian_add_pair);
                                     H then comes from the quantized stream x_q. Since 0.2.0. */

/* Creates an empty accumulator for inputs of width n (a layer's in_features).
 * flags: 0 or a combination of VQR_HESSIAN_F64 and VQR_HESSIAN_ASYMMETRIC. out: the new object, freed by vqr_hessian_free.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (out NULL, n < 1 or n > 2^20, unknown flags),
 * VQR_ERR_OUT_OF_MEMORY. Since 0.1.0. */
VQR_API vqr_status vqr_hessian_create(int64_t n, unsigned flags, vqr_hessian **out);

/* vqr_hessian_create on the backend of `ctx` (vqr_context_set_backend; NULL ctx = the CPU): its
 * additions run there. The accumulator keeps no reference to ctx. Returns as vqr_hessian_create.
 * Since 0.5.0. */
VQR_API vqr_status vqr_hessian_create_on(vqr_context *ctx, int64_t n, unsigned flags, vqr_hessian **out);

/* Frees an accumulator; NULL is a no-op. Since 0.1.0. */
VQR_API void vqr_hessian_free(vqr_hessian *h);

/* Adds a batch of tokens: x is T x n (x->cols must equal the width; any T >= 0; f32, f16 or
 * bf16; any row stride >= cols). x is read during the call only. A batch containing NaN or Inf is
 * rejected whole (VQR_ERR_NONFINITE, naming the first bad element) and h is unchanged; so is a
 * finite batch that would overflow an fp32 accumulator (a column's sum of squares past 1.7e38,
 * half of FLT_MAX, which keeps every entry of S finite; the message names the column). An fp64
 * accumulator (VQR_HESSIAN_F64) takes any finite batch.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (h, x or x->data NULL, wrong width, stride or dtype),
 * VQR_ERR_NONFINITE, VQR_ERR_OUT_OF_MEMORY.
 * Since 0.1.0. */
VQR_API vqr_status vqr_hessian_add(vqr_hessian *h, const vqr_tensor *x);

/* Adds paired batches for an asymmetric accumulator: x_q (T x n), the layer's input in the model
 * being quantized, and x_fp (T x n), the same tokens in the same order through the full-precision
 * model. H accumulates x_q x_q^T and D accumulates (x_fp - x_q) x_q^T, with the same 2/T. Both
 * views follow vqr_hessian_add's rules and may differ in dtype and stride; a non-finite value in
 * either rejects the pair and leaves h unchanged, and so does, in fp32, a column of x_q or of
 * x_fp - x_q whose sum of squares would pass 1.7e38 (that bounds every entry of D as well).
 * vqr_hessian_add(h, x) on an asymmetric
 * accumulator means x_fp = x_q (D gains nothing).
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (NULL, h not asymmetric, shapes differ, wrong width),
 * VQR_ERR_NONFINITE, VQR_ERR_OUT_OF_MEMORY. Since 0.2.0. */
VQR_API vqr_status vqr_hessian_add_pair(vqr_hessian *h, const vqr_tensor *x_q, const vqr_tensor *x_fp);

/* dst += src: sums and token counts add. Both must have the same width and flags; src is read
 * only and may not be dst. A merge in which any sum would overflow to Inf is refused whole and dst
 * is unchanged. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (NULL, src == dst, widths or flags
 * differ), VQR_ERR_NONFINITE (the overflowing entry is named). Since 0.1.0. */
VQR_API vqr_status vqr_hessian_merge(vqr_hessian *dst, const vqr_hessian *src);

/* The input width n (>= 1); 0 if h is NULL (-1 before 0.5). Cannot fail. Since 0.1.0. */
VQR_API int64_t vqr_hessian_width(const vqr_hessian *h);

/* Tokens accumulated so far (T); 0 if h is NULL (-1 before 0.5). Cannot fail. Since 0.1.0. */
VQR_API int64_t vqr_hessian_token_count(const vqr_hessian *h);

/* The flags the accumulator was created with; 0 if h is NULL. Cannot fail. Since 0.2.0. */
VQR_API unsigned vqr_hessian_flags(const vqr_hessian *h);

/* Writes H = (2/T) S as a full symmetric n x n fp32 matrix into out (row-major, ld >= n floats
 * between rows; ld = 0 means n), which the caller allocates (n rows of ld floats). With T = 0, H is
 * all zeros. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (h or out NULL, 0 < ld < n). Since 0.1.0. */
VQR_API vqr_status vqr_hessian_read(const vqr_hessian *h, float *out, int64_t ld);

/* Writes D = (2/T) sum (x_fp - x_q) x_q^T (n x n, not symmetric; row i = input channel i of the
 * asymmetry) into out as vqr_hessian_read does. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (as
 * vqr_hessian_read, and when h is not asymmetric). Since 0.2.0. */
VQR_API vqr_status vqr_hessian_read_d(const vqr_hessian *h, float *out, int64_t ld);

/* Size in bytes of the serialized form of h, into *size.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (h or size NULL). Since 0.1.0. */
VQR_API vqr_status vqr_hessian_serialized_size(const vqr_hessian *h, size_t *size);

/* Serializes h into buf (capacity `capacity` bytes), so that it can be stored or sent and later
 * restored or merged anywhere. Format (little-endian): "VQRH", u32 version (1), u32 flags,
 * u32 reserved, i64 n, i64 tokens, u64 payload bytes, the upper triangle of S row by row (fp32,
 * or fp64 with VQR_HESSIAN_F64), then with VQR_HESSIAN_ASYMMETRIC the full n x n sum of
 * (x_fp - x_q) x_q^T row by row in the same precision, then a u32 CRC-32 of everything before it.
 * written (may be NULL): bytes written. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (h or buf NULL),
 * VQR_ERR_BUFFER_TOO_SMALL (capacity < vqr_hessian_serialized_size; nothing written).
 * Since 0.1.0. */
VQR_API vqr_status vqr_hessian_serialize(const vqr_hessian *h, void *buf, size_t capacity,
                                         size_t *written);

/* Restores an accumulator from vqr_hessian_serialize's bytes (exactly `size` of them).
 * out: the new object, freed by vqr_hessian_free. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (buf or
 * out NULL), VQR_ERR_CORRUPT (bad magic, version, sizes or checksum), VQR_ERR_NONFINITE (an entry
 * of S or D is NaN or Inf; the message names it: 0.4 said VQR_ERR_CORRUPT), VQR_ERR_OUT_OF_MEMORY.
 * Since 0.1.0. */
VQR_API vqr_status vqr_hessian_deserialize(const void *buf, size_t size, vqr_hessian **out);

/* ============================================================================================ */
/* Quantizing a layer                                                                            */
/* ============================================================================================ */

/* What vqr_quantize_layer produced: codes, scales, zeros, g_idx, report. Since 0.1.0. */
typedef struct vqr_result vqr_result;

/* Quantizes one linear layer y = W x with the method and grid of `config`.
 * ctx:     settings and callbacks; NULL means defaults (all cores, no callbacks, no cancel).
 * config:  read during the call only.
 * w:       the weights, m x n (rows = out_features, cols = in_features), f32/f16/bf16, finite.
 * hessian: statistics of the layer's inputs with width n and at least one token; required by
 *          GPTQ, GPTAQ, ResComp, GPTAQ_PAPER and the learned methods (GPTAQ, ResComp, GPTAQ_PAPER
 *          and VQR_PARAM_EXACT_TARGET need an asymmetric one); optional for RTN (then only the report's proxy losses use it).
 *          NULL allowed for RTN. Read only.
 * out:     the result object on success, freed by vqr_result_free.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (NULL pointers, shapes, strides, group size not
 * dividing n without VQR_PARAM_ALLOW_PARTIAL_GROUP, missing, empty or symmetric-where-asymmetric-
 * is-needed Hessian, exact target with a method other than GPTQ), VQR_ERR_UNSUPPORTED (a
 * combination the method does not define: VQR_INIT_GPTQ for AutoRound or LoRA-rounding,
 * VQR_GRID_QUAROT for AutoRound), VQR_ERR_NONFINITE, VQR_ERR_NUMERICAL (Cholesky failed after
 * every damping attempt), VQR_ERR_CANCELLED, VQR_ERR_OUT_OF_MEMORY. Since 0.1.0. */
VQR_API vqr_status vqr_quantize_layer(vqr_context *ctx, const vqr_config *config, const vqr_tensor *w,
                                      const vqr_hessian *hessian, vqr_result **out);

/* Frees a result; NULL is a no-op. Since 0.1.0. */
VQR_API void vqr_result_free(vqr_result *result);

/* Shape of the result: rows m, cols n, number of scale/zero groups G (1 per row when
 * group size = -1), bits. Any out pointer may be NULL. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT
 * (result NULL). Since 0.1.0. */
VQR_API vqr_status vqr_result_shape(const vqr_result *result, int64_t *rows, int64_t *cols,
                                    int64_t *groups, int *bits);

/* Integer codes, m x n row-major, one byte each, in [0, 2^bits - 1], produced by the algorithm
 * itself (never re-derived from rounded floats). Dequantized weight (r, j) =
 * scales[g_idx[j] * m + r] * (codes[r * n + j] - zeros[g_idx[j] * m + r]).
 * Borrowed: valid until vqr_result_free. NULL if result is NULL. Since 0.1.0. */
VQR_API const uint8_t *vqr_result_codes(const vqr_result *result);

/* Scales, G x m row-major fp32 (row k = group k, in the order g_idx refers to). Borrowed as the
 * codes are. NULL if result is NULL. Since 0.1.0. */
VQR_API const float *vqr_result_scales(const vqr_result *result);

/* Zero-points, G x m row-major, integer values stored as fp32 (GPTQ's convention). Borrowed as
 * the codes are. NULL if result is NULL. Since 0.1.0. */
VQR_API const float *vqr_result_zeros(const vqr_result *result);

/* g_idx, n int32 in original column order: the group of each input column: j / g without
 * act-order or with static groups; (position of j in processing order) / g with act-order and
 * dynamic groups (g the group size, n when it is -1). Borrowed as the codes are. NULL if result is
 * NULL. Since 0.1.0. */
VQR_API const int32_t *vqr_result_g_idx(const vqr_result *result);

/* Writes the dequantized weights (m x n) into out as `dtype` (f32, or f16/bf16 rounded to
 * nearest even), row stride `row_stride` elements (0 = n); the caller allocates out (m rows).
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (result or out NULL, unknown dtype, 0 < row_stride < n).
 * Since 0.1.0. */
VQR_API vqr_status vqr_result_dequantize(const vqr_result *result, vqr_dtype dtype, void *out,
                                         int64_t row_stride);

/* What the quantizer measured. The caller sets struct_size = sizeof(vqr_report) before the call;
 * the library fills the fields that fit and never writes past struct_size. Since 0.1.0. */
typedef struct vqr_report {
  size_t struct_size;
  int method;               /* the vqr_method that ran */
  double proxy_loss;        /* tr(dW H dW^T) with dW = Q - W and H from the Hessian (undamped);
                               NaN without a Hessian or with VQR_PARAM_REPORT_LOSS = 0. How it is
                               computed per method: vqr_report_level. */
  double rtn_proxy_loss;    /* the same for RTN on the same grid and groups; NaN likewise, and for
                               the GPTQ family NaN unless VQR_PARAM_REPORT_LOSS =
                               VQR_REPORT_PROXY_AND_RTN (since 0.5.0; before, at 1) */
  double damp;              /* the relative damping finally used (GPTQ), 0 for RTN */
  double damp_lambda;       /* the absolute value added to diag(H) */
  int damp_attempts;        /* factorizations tried (1 = the first succeeded) */
  int64_t dead_columns;     /* input columns with H_jj == 0: their weights are set to 0 and
                               H_jj to 1 before the sweep, as GPTQ does */
  double seconds;           /* wall time of vqr_quantize_layer */
  /* Since 0.2.0: */
  double asym_loss;         /* with an asymmetric Hessian: tr(dW H dW^T) - 2 tr(dW D^T W^T), the
                               asymmetric objective (2/T) ||W' X_q - W X_fp||^2 minus its constant
                               (2/T) ||W (X_fp - X_q)||^2 (so it can be negative; compare methods
                               on the same Hessian); NaN otherwise */
  double alpha;             /* the asymmetry weights and outer mode that ran (0, 0, 0 for GPTQ) */
  double alpha2;
  int outer_mode;
  /* Since 0.3.0 (learned rounding; 0 or NaN for the other methods): */
  double init_proxy_loss;   /* proxy_loss of the hard initialization the method started from */
  int64_t trainable_params; /* parameters the optimizer trained */
  double trainable_share;   /* trainable_params / (m n) */
  int64_t steps;            /* optimizer steps run */
  int64_t best_step;        /* the step whose parameters were kept (0-based; -1 = the
                               initialization was kept, steps = the final parameters) */
  int64_t codebook_size;    /* VQRound: the K used (capped at the number of vectors) */
  double sign_flip_rate;    /* VQRound: share of weights whose initial rounding decision the
                               k-means assignment changed (a codeword of the other sign flips it) */
  double kmeans_seconds;    /* VQRound: time spent in k-means */
} vqr_report;

/* Per-step training curves of a learned method: VQR_HISTORY_LOSS, the layer objective at the
 * parameters of each step (the soft weights for AdaRound/VQRound); VQR_HISTORY_REGULARIZER,
 * the weighted rounding regularizer added to it (0 during warm-up). Since 0.3.0. */
typedef VQR_ENUM(vqr_history) {
  VQR_HISTORY_LOSS = 0,
  VQR_HISTORY_REGULARIZER = 1
} vqr_history;

/* The curve `which`: *count values (one per step; 0 for non-learned methods), borrowed until
 * vqr_result_free. Returns NULL with *count = 0 on a NULL result or unknown `which`; a NULL
 * count gives NULL. Cannot fail otherwise. Since 0.3.0. */
VQR_API const double *vqr_result_history(const vqr_result *result, vqr_history which, int64_t *count);

/* Copies the report into *out (see vqr_report). Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT
 * (result or out NULL, or out->struct_size smaller than sizeof(size_t)). Since 0.1.0. */
VQR_API vqr_status vqr_result_report(const vqr_result *result, vqr_report *out);

/* ============================================================================================ */
/* GPTQ checkpoint packing                                                                       */
/* ============================================================================================ */

/* Packed layouts of GPTQ checkpoints. Since 0.1.0. */
typedef VQR_ENUM(vqr_pack_format) {
  VQR_PACK_GPTQ_V1 = 1, /* AutoGPTQ "gptq": qzeros store zero - 1. A zero-point of 0 cannot be
                           stored (it wraps), so packing such a result fails with
                           VQR_ERR_UNSUPPORTED rather than writing a wrong checkpoint. */
  VQR_PACK_GPTQ_V2 = 2  /* GPTQModel "gptq_v2": qzeros store the zero-point as is */
} vqr_pack_format;

/* Element counts of the packed tensors (all row-major). An output struct: set struct_size =
 * sizeof(vqr_packed_shape) before the call (the struct_size rule, since 0.5.0). Since 0.1.0. */
typedef struct vqr_packed_shape {
  size_t struct_size;                 /* in: sizeof the caller's struct (0 reads as the 0.4 size);
                                         out: bytes written */
  int64_t qweight_rows, qweight_cols; /* int32: (ceil(n / (32/b)) or 3 ceil(n/32) for b = 3, m) */
  int64_t qzeros_rows, qzeros_cols;   /* int32: (G, ceil(m / (32/b)) or 3 ceil(m/32) for b = 3) */
  int64_t scales_rows, scales_cols;   /* fp16 as uint16_t: (G, m) */
  int64_t g_idx_len;                  /* int32: n */
} vqr_packed_shape;

/* The packed shapes for `format`. Codes are packed LSB-first, 32/b per int32 word along the input
 * dimension (qweight) or the output dimension (qzeros); 3-bit packs 32 codes into 3 words across
 * word boundaries exactly as AutoGPTQ does. When a dimension is not a multiple of the codes per
 * word, the last word is padded with zero bits (GPTQ inference kernels require in_features and
 * out_features to be multiples of 32; plain unpacking works for any size). Writes
 * min(out->struct_size, sizeof(vqr_packed_shape)) bytes, the rest of the caller's struct untouched.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (result or out NULL, out->struct_size between 1 and
 * sizeof(size_t) - 1), VQR_ERR_UNSUPPORTED (bits not 2, 3, 4 or 8; unknown format). Since 0.1.0. */
VQR_API vqr_status vqr_result_packed_shape(const vqr_result *result, vqr_pack_format format,
                                           vqr_packed_shape *out);

/* Packs the result into caller buffers sized by vqr_result_packed_shape. Any of the four output
 * pointers may be NULL to skip that tensor. scales are converted to fp16 (round to nearest even).
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (result NULL), VQR_ERR_UNSUPPORTED (bits; unknown
 * format; a zero-point of 0 with VQR_PACK_GPTQ_V1). Nothing is written on error. Since 0.1.0. */
VQR_API vqr_status vqr_result_pack_gptq(const vqr_result *result, vqr_pack_format format,
                                        int32_t *qweight, int32_t *qzeros, uint16_t *scales,
                                        int32_t *g_idx);

/* ============================================================================================ */
/* Whole models (LLaMA family: llama2.c and Hugging Face checkpoints). Since 0.3.0.              */
/* ============================================================================================ */

/* A loaded checkpoint: its weights (read from the mapped file, see vqr_model_load), tokenizer, and
 * the records of its last quantization. Since 0.3.0. */
typedef struct vqr_model vqr_model;

/* Loads a model. `path` is one of:
 *  - a llama2.c legacy v0 checkpoint file;
 *  - a Hugging Face folder: config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM,
 *    Qwen3ForCausalLM) + model.safetensors or model.safetensors.index.json with its shards; F32,
 *    F16 or BF16 weights (F16 and BF16 since 0.4.0);
 *  - a GGUF v3 file, whose vocabulary is its tokenizer (since 0.4.0);
 *  - a folder written by vqr_model_save / `vqround quantize` (one of the two plus vqround.json).
 * tokenizer_path may be NULL: in a folder its tokenizer.json when that is a byte-level BPE (GPT-2,
 * Llama 3, Qwen2 style, with the BOS rule of tokenizer_config.json), else its tokenizer.model
 * (SentencePiece) or tokenizer.bin (llama2.c); beside a checkpoint file a tokenizer.bin or the
 * single tok*.bin; an explicit tokenizer_path may also name a tokenizer.json. A Hugging Face folder
 * without any of them loads without a tokenizer (vqr_model_tokenize then returns VQR_ERR_UNSUPPORTED;
 * pass token ids). The weights stay in the file, memory-mapped in their own dtype (a quantized
 * GPTQ / compressed-tensors folder stays packed): only norms and biases are read at load time, and
 * one decoder block at a time is widened to fp32 when the model is evaluated or quantized, so a
 * checkpoint larger than memory loads (since 0.5.0; before, every weight was held in fp32). The
 * files must therefore stay unchanged until vqr_model_free. Every tensor's shape is checked against
 * the files' index during this call; the weights' values (finite, well-formed packed codes) are
 * checked when they are first read, so a damaged weight may surface as VQR_ERR_FORMAT from a later
 * call that reads it (vqr_model_evaluate, vqr_model_quantize, vqr_model_linear, ...).
 * out: the new model on success, freed by vqr_model_free. Paths are read during the call only.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (path or out NULL), VQR_ERR_IO (missing or unreadable
 * files, no tokenizer found beside a llama2.c file), VQR_ERR_FORMAT (a malformed checkpoint, config.json, safetensors
 * file or tokenizer; a missing tensor; a wrong shape; non-finite norms or biases), VQR_ERR_UNSUPPORTED
 * (an architecture or feature not implemented, a versioned llama2.c export), VQR_ERR_OUT_OF_MEMORY
 * (also when what the model would hold, its small tensors and one widened block, passes physical
 * memory: the message gives the figure). Since 0.3.0. */
VQR_API vqr_status vqr_model_load(const char *path, const char *tokenizer_path, vqr_model **out);

/* vqr_model_load under ctx's memory limit (vqr_context_set_memory_limit; NULL ctx = physical
 * memory): a model whose load would commit more fails with VQR_ERR_OUT_OF_MEMORY naming the
 * figure, before allocating it. The model keeps no reference to ctx. Returns as vqr_model_load.
 * Since 0.5.0. */
VQR_API vqr_status vqr_model_load_on(vqr_context *ctx, const char *path, const char *tokenizer_path, vqr_model **out);

/* Frees a model; NULL is a no-op. Since 0.3.0. */
VQR_API void vqr_model_free(vqr_model *model);

/* The architecture and where the model came from. Set out->struct_size = sizeof *out before the
 * call; the library writes min(struct_size, its own size) bytes, so fields appended later never
 * overrun an older caller's struct. Strings point into the model and live until vqr_model_free.
 * Since 0.3.0. */
typedef struct vqr_model_info {
  size_t struct_size;
  int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
  int shared_classifier;     /* 1: the classifier is the token embedding */
  int64_t parameters;        /* fp32 parameters in all */
  int64_t quantized_layers;  /* linear layers quantized since loading (0 for a fresh model) */
  /* Since 0.4.0: */
  const char *format;        /* "llama2c-v0", "huggingface", "gguf" */
  const char *architecture;  /* "LlamaForCausalLM", "Qwen3ForCausalLM", ...; "llama2.c" for v0 files */
  const char *model_path;    /* the checkpoint file or folder that was read */
  const char *tokenizer_path;/* the tokenizer in use, or NULL when the model has none */
  const char *metadata_path; /* vqround.json of a folder written by this library, else NULL */
  const char *quantization;  /* "gptq" or "compressed-tensors" for a Hugging Face folder that
                                stores quantized tensors (loaded dequantized), else NULL */
  int head_dim;              /* per head; n_heads * head_dim may differ from dim (Qwen3) */
  int rope_half_layout;      /* 1: q/k rows in Hugging Face's rotate-half layout; 0: interleaved pairs */
  int rope_scaling;          /* 0 none, 1 linear, 2 llama3 */
  int rope_original_context; /* llama3 scaling: original_max_position_embeddings */
  double rope_theta, rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  double norm_eps;           /* RMSNorm epsilon (OPT: LayerNorm epsilon) */
  int qkv_bias;              /* 1: q/k/v projections have biases (Qwen2) */
  int qk_norm;               /* 1: per-head q/k RMSNorm before RoPE (Qwen3) */
  int sliding_window;        /* attention window in tokens, 0 = full causal attention */
  int64_t file_bytes;        /* bytes of the weight files (the checkpoint, or a folder's tensors) */
} vqr_model_info;

/* Fills *out (see vqr_model_info). Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or out NULL, or
 * out->struct_size smaller than sizeof(size_t)). Since 0.3.0. */
VQR_API vqr_status vqr_model_get_info(const vqr_model *model, vqr_model_info *out);

/* Tokenizes UTF-8 `text` with the model's tokenizer (llama2.c encode; bos 0/1 adds BOS). Writes
 * up to `capacity` ids into tokens (may be NULL with capacity 0) and the full count into *count.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, text or count NULL; capacity < 0; tokens NULL
 * with capacity > 0), VQR_ERR_UNSUPPORTED (the model has no tokenizer; the message says why),
 * VQR_ERR_BUFFER_TOO_SMALL (capacity < *count; *count is set, no token written). Since 0.3.0. */
VQR_API vqr_status vqr_model_tokenize(const vqr_model *model, const char *text, int bos, int32_t *tokens,
                                      int64_t capacity, int64_t *count);

/* Quantizes every linear layer of the model in place, block by block (true-sequential groups
 * q/k/v, o, gate/up, down; GPTAQ/ResComp/AutoRound also run the full-precision stream), with the
 * method and grid of `config` for every layer. Calibration: `sequences` token sequences,
 * concatenated in `tokens`, sequence i having lengths[i] tokens (1..seq_len), each run with a
 * fresh context. Afterwards the model's weights are the dequantized quantized weights, so
 * vqr_model_eval_nll measures the quantized model; per-layer reports through
 * vqr_model_layer_report. Progress: stage "model" (done = layers finished), each layer's own
 * stages, and since 0.5.0 the end of each block's phases ("load", "forward", "hessian", "sweep":
 * done = the block + 1 of total blocks, vqr_progress.seconds the phase's duration); cancellation through ctx (NULL means default settings). tokens and lengths are read
 * during the call only. On failure the model may be partly quantized.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, config, tokens or lengths NULL; sequences < 1;
 * a length outside 1..seq_len; a token id outside the vocabulary), the errors of
 * vqr_quantize_layer (VQR_ERR_UNSUPPORTED, VQR_ERR_NUMERICAL, ...), VQR_ERR_CANCELLED.
 * Since 0.3.0. */
VQR_API vqr_status vqr_model_quantize(vqr_context *ctx, vqr_model *model, const vqr_config *config,
                                      const int32_t *tokens, const int64_t *lengths, int64_t sequences);

/* Number of per-layer reports of the last vqr_model_quantize (0 before it, and 0 for a NULL model).
 * Cannot fail. Since 0.3.0. */
VQR_API int64_t vqr_model_layer_count(const vqr_model *model);

/* Report `index` (0 <= index < vqr_model_layer_count) of the last vqr_model_quantize: its layer
 * name ("blk.<layer>.<wq|wk|wv|wo|w1|w2|w3>", owned by the model, valid until the next quantize or
 * free) and the vqr_report (out->struct_size set by the caller, as vqr_result_report). name and out
 * may each be NULL to skip it. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model NULL, index out of
 * range, out->struct_size smaller than sizeof(size_t)). Since 0.3.0. */
VQR_API vqr_status vqr_model_layer_report(const vqr_model *model, int64_t index, const char **name,
                                          vqr_report *out);

/* Negative log-likelihood (natural log) of token sequences under the model: each sequence (laid
 * out as in vqr_model_quantize, 1..seq_len tokens) runs with a fresh context and tokens 1..n-1
 * are scored from positions 0..n-2, accumulated in double. *sum_nll and *predicted receive the
 * total and the number of scored tokens (mean = sum / predicted, perplexity = exp(mean)). ctx may be
 * NULL (default settings). Consecutive sequences run packed into one pass of up to 2048 rows (each
 * still alone in its context), so a sequence's score can differ from its score in another call by
 * fp32 rounding (the GEMMs' summation order); the same call gives the same bits. Progress: stage
 * "eval", done = sequences finished.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, tokens, lengths, sum_nll or predicted NULL;
 * sequences outside 1..2^24 (the upper bound since 0.5.0); bad lengths or token ids), VQR_ERR_CANCELLED,
 * VQR_ERR_OUT_OF_MEMORY (the sequences past the memory limit). Since 0.3.0. */
VQR_API vqr_status vqr_model_eval_nll(vqr_context *ctx, const vqr_model *model, const int32_t *tokens,
                                      const int64_t *lengths, int64_t sequences, double *sum_nll,
                                      int64_t *predicted);

/* The logits of one sequence under the model's current weights: tokens[0..n) at positions 0..n-1
 * with a fresh context (1 <= n <= seq_len), computed as vqr_model_eval_nll computes them (ctx's
 * backend and threads; ctx may be NULL). logits receives n x vocab_size floats, row-major: row t
 * scores the token that follows position t. capacity: the floats logits can hold.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, tokens or logits NULL; n outside 1..seq_len; a
 * token id outside the vocabulary), VQR_ERR_BUFFER_TOO_SMALL (capacity < n x vocab_size; nothing
 * is written), VQR_ERR_OUT_OF_MEMORY. Since 0.5.0. */
VQR_API vqr_status vqr_model_logits(vqr_context *ctx, const vqr_model *model, const int32_t *tokens, int64_t n,
                                    float *logits, int64_t capacity);

/* Writes the model as a folder `dir` (which must not exist) in its source's format with the current
 * weights: model.bin (llama2.c v0) for a llama2.c source, or config.json + model.safetensors (each
 * tensor in the source dtype where exact, else F32; quantized layers usually F32) for a Hugging Face
 * source; the tokenizer files; and vqround.json (the settings and per-layer reports of the last
 * vqr_model_quantize). Built under a temporary name and renamed, so a failure leaves nothing. A GGUF
 * source is written as a Hugging Face folder.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or dir NULL, dir empty or existing), VQR_ERR_IO.
 * Since 0.3.0. */
VQR_API vqr_status vqr_model_save(const vqr_model *model, const char *dir);

/* ############################################################################################ */
/* EXPERIMENTAL                                                                                  */
/*                                                                                               */
/* Declared only when VQR_EXPERIMENTAL is defined before this header is included. These entry    */
/* points (added in 0.4.0 for whole models) are exported and tested, but their signatures, types */
/* and behaviour may change in any minor version until the bindings have used them; they move to */
/* the stable part above when they are settled. Do not rely on them in code that must link       */
/* against future versions unchanged.                                                            */
/* ############################################################################################ */
#ifdef VQR_EXPERIMENTAL

/* ============================================================================================ */
/* Token sequences for calibration and evaluation. Since 0.4.0.                                  */
/* ============================================================================================ */

/* A set of token sequences built by one of the protocols below: the tokens of all sequences
 * concatenated, and each one's length. Feed it to vqr_model_quantize / vqr_model_eval_nll through
 * vqr_sequences_tokens / _lengths / _count. Since 0.4.0. */
typedef struct vqr_sequences vqr_sequences;

/* How sequences are cut from a text or an id stream. Calibration and evaluation follow the GPTQ
 * papers' protocols (WikiText-2 test windows for perplexity, random windows for calibration).
 * Since 0.4.0. */
typedef VQR_ENUM(vqr_sampling) {
  /* Each paragraph (the text split on blank lines, "\n\n") encoded with BOS and without EOS,
   * truncated to `length` tokens; the first `count` paragraphs (0 = all). The paragraph protocol
   * of the stories260K reference NLL file. Text only. */
  VQR_SAMPLE_PARAGRAPHS = 0,
  /* The whole text encoded once (BOS at the start, no paragraph splitting; or the ids as given),
   * cut into non-overlapping windows of `length` tokens, the tail dropped; the first `count`
   * windows (0 = all). The GPTQ evaluation protocol. */
  VQR_SAMPLE_WINDOWS = 1,
  /* `count` windows of `length` tokens starting at positions drawn uniformly by a generator
   * seeded with `seed` (windows may overlap) from the paragraphs encoded with BOS each and
   * concatenated (or the ids as given). A stream no longer than `length` gives one window, the
   * whole stream. The GPTQ calibration protocol. */
  VQR_SAMPLE_RANDOM_WINDOWS = 2
} vqr_sampling;

/* Builds sequences from UTF-8 `text` (up to its first NUL) with the model's tokenizer.
 * length: tokens per window / the truncation of paragraphs, 1..seq_len; 0 = min(2048, seq_len).
 * count 0..2^24 (0 = all; for VQR_SAMPLE_RANDOM_WINDOWS 1..2^24, and count x length tokens must fit
 * in physical memory, checked before any window is cut: VQR_ERR_OUT_OF_MEMORY; since 0.5.0 — 0.4
 * had no bound and a count of 2^40 ran without end). A text too short for one
 * window gives an empty set (vqr_sequences_count 0), not an error. text is read during the call
 * only. out: the new set on success, freed by vqr_sequences_free.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, text or out NULL; sampling not a vqr_sampling),
 * VQR_ERR_OUT_OF_RANGE (length, count), VQR_ERR_UNSUPPORTED (the model has no tokenizer),
 * VQR_ERR_OUT_OF_MEMORY. Since 0.4.0. */
VQR_API vqr_status vqr_sequences_from_text(const vqr_model *model, const char *text, vqr_sampling sampling,
                                           int64_t count, int64_t length, uint64_t seed, vqr_sequences **out);

/* The same from pre-tokenized ids (`n` of them, each in [0, vocab_size); ids read during the call
 * only; may be NULL when n is 0). Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or out NULL;
 * ids NULL with n > 0; n < 0; sampling not a vqr_sampling, or VQR_SAMPLE_PARAGRAPHS, as ids carry
 * no paragraph boundaries; an id outside the vocabulary), VQR_ERR_OUT_OF_RANGE (length, count),
 * VQR_ERR_OUT_OF_MEMORY. Since 0.4.0. */
VQR_API vqr_status vqr_sequences_from_ids(const vqr_model *model, const int32_t *ids, int64_t n,
                                          vqr_sampling sampling, int64_t count, int64_t length, uint64_t seed,
                                          vqr_sequences **out);

/* The same from a file: UTF-8 text (is_ids 0) or little-endian uint32 ids (is_ids 1). Errors name
 * the file. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (path NULL or empty, and as the two functions
 * above), VQR_ERR_OUT_OF_RANGE (length, count), VQR_ERR_UNSUPPORTED (text, and the model has no
 * tokenizer), VQR_ERR_IO (cannot read), VQR_ERR_FORMAT (an id file whose size is not a multiple of
 * 4 or holds an id >= vocab_size), VQR_ERR_OUT_OF_MEMORY. Since 0.4.0. */
VQR_API vqr_status vqr_sequences_from_file(const vqr_model *model, const char *path, int is_ids,
                                           vqr_sampling sampling, int64_t count, int64_t length, uint64_t seed,
                                           vqr_sequences **out);

/* Frees a set; NULL is a no-op. Since 0.4.0. */
VQR_API void vqr_sequences_free(vqr_sequences *seqs);

/* Number of sequences (0 for NULL); the concatenated tokens; the lengths (count entries). The
 * arrays are owned by the set and live until vqr_sequences_free; NULL for an empty set or a NULL
 * seqs. Cannot fail. Since 0.4.0. */
VQR_API int64_t vqr_sequences_count(const vqr_sequences *seqs);
VQR_API const int32_t *vqr_sequences_tokens(const vqr_sequences *seqs);
VQR_API const int64_t *vqr_sequences_lengths(const vqr_sequences *seqs);
/* Tokens in all sequences (0 for NULL). Cannot fail. Since 0.4.0. */
VQR_API int64_t vqr_sequences_total_tokens(const vqr_sequences *seqs);

/* ============================================================================================ */
/* Per-layer control and inspection of a model. Since 0.4.0.                                     */
/* ============================================================================================ */

/* Per-layer exceptions for the next vqr_model_quantize calls: every linear layer whose name
 * ("blk.<block>.<wq|wk|wv|wo|w1|w2|w3>") matches the shell pattern `pattern` (fnmatch: *, ?, [..])
 * gets `param` = value instead of the config's. Rules apply in the order they were added; a later
 * match wins for the same parameter. Values are checked as vqr_config_set_int/_float check them;
 * pattern is copied. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or pattern NULL, empty pattern,
 * an integer parameter given a float or the reverse), VQR_ERR_OUT_OF_RANGE (value outside the
 * bounds), VQR_ERR_UNSUPPORTED (unknown parameter). Since 0.4.0 (both). */
VQR_API vqr_status vqr_model_override_int(vqr_model *model, const char *pattern, vqr_param param, int64_t value);
VQR_API vqr_status vqr_model_override_float(vqr_model *model, const char *pattern, vqr_param param, double value);
/* Layers matching `pattern` (as above; copied) are kept in full precision by the next
 * vqr_model_quantize calls. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or pattern NULL, empty
 * pattern). Since 0.4.0. */
VQR_API vqr_status vqr_model_skip_layers(vqr_model *model, const char *pattern);
/* Removes every override and skip rule. NULL is a no-op. Since 0.4.0. */
VQR_API void vqr_model_clear_overrides(vqr_model *model);

/* What was done to one layer by the last vqr_model_quantize (index < vqr_model_layer_count). The
 * count grows while vqr_model_quantize runs, so a progress callback (stage "model") may read the
 * layers finished so far. Set out->struct_size = sizeof *out; the library writes what fits.
 * Since 0.4.0. */
typedef struct vqr_layer_info {
  size_t struct_size;
  const char *name;    /* "blk.3.wq"; valid until the next quantize or vqr_model_free */
  int block;           /* decoder block */
  int skipped;         /* 1: kept in full precision by a skip rule */
  int method;          /* the vqr_method that ran (presets resolved) */
  int bits;
  int64_t group_size;  /* -1: one group per output row */
  int sym;             /* 1: symmetric grid */
  int64_t rows, cols;  /* out_features x in_features */
} vqr_layer_info;

/* Fills *out for layer `index`. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or out NULL,
 * out->struct_size smaller than sizeof(size_t), index out of range). Since 0.4.0. */
VQR_API vqr_status vqr_model_layer_info(const vqr_model *model, int64_t index, vqr_layer_info *out);

/* Free-form provenance written into vqround.json ("metadata": {key: value}) by vqr_model_save and
 * vqr_model_export, e.g. ("calibration_file", "wiki.txt"). A later value replaces an earlier one
 * for the same key; value NULL removes the key. key and value are copied.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or key NULL, empty key). Since 0.4.0. */
VQR_API vqr_status vqr_model_set_metadata(vqr_model *model, const char *key, const char *value);

/* The model's linear layers for layer-wise work: there are n_layers * 7 of them, index =
 * block * 7 + j with j in wq, wk, wv, wo, w1, w2, w3 order. Writes the name (static storage of the
 * model), the current weights as an fp32 view owned by the model, and the index of the Hessian the
 * layer shares in vqr_model_collect_hessians (layers reading the same input share one). name,
 * weight or hessian_index may be NULL. The weights stay in the file (vqr_model_load), so the view
 * is a copy of this one layer widened to fp32, valid until the next vqr_model_linear call on the
 * same model, vqr_model_quantize or vqr_model_free (since 0.5.0; before, it pointed into weights
 * the model held whole and stayed valid until quantize or free).
 * vqr_model_linear_count: n_layers * 7, 0 for a NULL model; cannot fail. vqr_model_linear:
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (NULL model, index out of range), VQR_ERR_FORMAT (a
 * non-finite or malformed weight in the file), VQR_ERR_OUT_OF_MEMORY. Since 0.4.0 (both). */
VQR_API int64_t vqr_model_linear_count(const vqr_model *model);
VQR_API vqr_status vqr_model_linear(const vqr_model *model, int64_t index, const char **name, vqr_tensor *weight,
                                    int64_t *hessian_index);

/* Runs the model (its current weights) over the sequences and accumulates one Hessian per distinct
 * linear input: n_layers * 4 of them (per block: the attention input of wq/wk/wv, the input of
 * wo, the feed-forward input of w1/w3, the input of w2), each created by the call with flags 0 and
 * owned by the caller (vqr_hessian_free each). hessians must have room for `capacity` >= that
 * count. ctx may be NULL (default settings); progress stage "hessian", done = sequences run.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model, hessians, tokens or lengths NULL; sequences < 1;
 * a length outside 1..seq_len; a token id outside the vocabulary), VQR_ERR_BUFFER_TOO_SMALL
 * (capacity < n_layers * 4), VQR_ERR_CANCELLED, VQR_ERR_OUT_OF_MEMORY (nothing is returned on
 * failure). Since 0.4.0. */
VQR_API vqr_status vqr_model_collect_hessians(vqr_context *ctx, const vqr_model *model, const int32_t *tokens,
                                              const int64_t *lengths, int64_t sequences, vqr_hessian **hessians,
                                              int64_t capacity);

/* ============================================================================================ */
/* Calibration at scale: hidden-state storage, memory budget, per-phase figures. Since 0.5.0.    */
/* ============================================================================================ */

/* How the next vqr_model_quantize calls keep the calibration hidden states (the residual stream
 * of every calibration token at the current block boundary, twice with the fp stream):
 *  - calib_dtype: VQR_DTYPE_F32 (exact; the default), VQR_DTYPE_BF16 or VQR_DTYPE_F16 (half the
 *    memory; each state is rounded to nearest even when stored and widened back to fp32 for the
 *    forward, which changes the Hessians and so the codes slightly: bf16 keeps fp32's range with an
 *    8-bit mantissa, f16 an 11-bit mantissa with a range of +-65504);
 *  - max_memory_bytes: the budget of the hidden states in memory, 0 = no limit (the default); the
 *    states beyond it are written to a temporary file and read back block by block;
 *  - spill_dir: the folder of that file, NULL or "" = $TMPDIR, else /tmp; copied.
 * The settings stay until changed. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model NULL,
 * calib_dtype not one of the three, max_memory_bytes < 0, spill_dir not an existing folder).
 * Since 0.5.0. */
VQR_API vqr_status vqr_model_set_calibration(vqr_model *model, vqr_dtype calib_dtype, int64_t max_memory_bytes,
                                             const char *spill_dir);

/* What the last vqr_model_quantize measured, for run summaries. Phase seconds are summed over the
 * blocks: load (the block's weights read and widened to fp32), forward (the block passes of both
 * streams), hessian (the statistics), sweep (the per-layer quantization). The same phases reach a
 * progress callback as they end, one report per block and phase (stages "load", "forward",
 * "hessian", "sweep"; done = the block + 1, total = the blocks, vqr_progress.seconds the phase's
 * duration), beside stage "model" (done = layers finished). An output struct: set struct_size =
 * sizeof(vqr_quantize_stats). Since 0.5.0. */
typedef struct vqr_quantize_stats {
  size_t struct_size;          /* in: sizeof the caller's struct; out: the bytes written */
  double seconds;              /* wall time of the whole call */
  double load_seconds, forward_seconds, hessian_seconds, sweep_seconds;
  int64_t peak_hidden_bytes;   /* the most bytes the calibration hidden states held in memory at
                                  once (both streams; spilled states not counted) */
  int64_t sequences, tokens;   /* the calibration it ran on */
  int calib_dtype;             /* the vqr_dtype the hidden states were kept in */
  int64_t max_memory_bytes;    /* the budget it ran with (0 = none) */
} vqr_quantize_stats;

/* Fills *out for the last vqr_model_quantize (all zero before one). Returns VQR_OK,
 * VQR_ERR_INVALID_ARGUMENT (model or out NULL, out->struct_size smaller than sizeof(size_t)).
 * Since 0.5.0. */
VQR_API vqr_status vqr_model_quantize_stats(const vqr_model *model, vqr_quantize_stats *out);

/* ============================================================================================ */
/* End-to-end distillation (VQR_PARAM_E2E). Since 0.5.0.                                        */
/* ============================================================================================ */

/* The files of the next vqr_model_quantize calls with VQR_PARAM_E2E (copied; the settings stay
 * until changed):
 *  - teacher_cache: NULL or "" = the teacher is kept in memory only; else the file is read when it
 *    exists (it must have been made for the same model content, calibration tokens, top-k,
 *    vocabulary and temperature: another is refused with VQR_ERR_INVALID_ARGUMENT naming each
 *    difference, a damaged one with VQR_ERR_CORRUPT) and written otherwise;
 *  - checkpoint: NULL or "" = none; else the training state is written there (atomically) at every
 *    evaluation (VQR_PARAM_EVAL_EVERY, or every 100 steps when that is 0) and when the call is
 *    cancelled;
 *  - resume: 1 = continue from the checkpoint, which must exist and have been made with the same
 *    settings, model, calibration and initialization (else VQR_ERR_INVALID_ARGUMENT naming what
 *    differs); the result equals an uninterrupted run's bit for bit.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model NULL, resume without a checkpoint). */
VQR_API vqr_status vqr_model_set_distill_files(vqr_model *model, const char *teacher_cache, const char *checkpoint,
                                               int resume);

/* What the last vqr_model_quantize's distillation did (ran = 0 without VQR_PARAM_E2E). An output
 * struct: set struct_size = sizeof(vqr_distill_stats). */
typedef struct vqr_distill_stats {
  size_t struct_size;          /* in: sizeof the caller's struct; out: the bytes written */
  int ran;                     /* 1 when the last quantize distilled */
  int64_t steps;               /* optimizer steps (a resumed run's earlier ones included) */
  int64_t best_step;           /* the state kept: after this many steps; -1 = the initialization */
  int64_t resumed_from;        /* the checkpoint's step when resumed, else -1 */
  int64_t train_sequences, holdout_sequences;
  int64_t tokens;              /* calibration tokens trained on */
  int64_t trainable_params;    /* over every trained layer (VQRound: the codebooks) */
  int64_t quantized_weights;   /* the trained layers' weights */
  int64_t teacher_k;           /* top-k the teacher kept */
  int teacher_online;          /* 1: the full-precision model ran beside the student */
  int teacher_from_cache;      /* 1: the stored teacher was read from the cache file */
  double teacher_seconds;      /* building or reading the stored teacher */
  double seconds;              /* the training loop with its evaluations */
  int64_t evaluations;         /* held-out scores (vqr_model_distill_eval) */
} vqr_distill_stats;

/* Fills *out. Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or out NULL, out->struct_size
 * smaller than sizeof(size_t)). */
VQR_API vqr_status vqr_model_distill_stats(const vqr_model *model, vqr_distill_stats *out);

/* Held-out evaluation `index` (0 <= index < evaluations, in step order; the first is the
 * initialization's, at step 0): step, tau^2 KL(teacher || hard-rounded student) per token, and the
 * next-token NLL per predicted token. Any output pointer may be NULL. Returns VQR_OK,
 * VQR_ERR_INVALID_ARGUMENT (model NULL, index out of range). */
VQR_API vqr_status vqr_model_distill_eval(const vqr_model *model, int64_t index, int64_t *step, double *kl,
                                          double *nll);

/* Step `step`'s training loss (0 <= step < steps: the mean distillation loss of its sequences) and
 * weighted rounding regularizer. Either pointer may be NULL. Returns VQR_OK,
 * VQR_ERR_INVALID_ARGUMENT (model NULL, step out of range). */
VQR_API vqr_status vqr_model_distill_loss(const vqr_model *model, int64_t step, double *loss, double *reg);

/* ============================================================================================ */
/* Checkpoint formats. Since 0.4.0.                                                              */
/* ============================================================================================ */

/* Checkpoint formats vqr_model_export writes. Since 0.4.0. */
typedef VQR_ENUM(vqr_format) {
  VQR_FORMAT_NATIVE = 0,             /* vqr_model_save's folder: the source's format + vqround.json */
  VQR_FORMAT_HUGGINGFACE = 1,        /* config.json + safetensors, dense weights (folder) */
  VQR_FORMAT_LLAMA2C = 2,            /* llama2.c legacy v0 (one file, fp32, interleaved RoPE) */
  VQR_FORMAT_GPTQ = 3,               /* Hugging Face folder with qweight/qzeros/scales/g_idx (folder) */
  VQR_FORMAT_COMPRESSED_TENSORS = 4, /* Hugging Face folder, compressed-tensors pack-quantized (folder) */
  VQR_FORMAT_GGUF = 5                /* one GGUF v3 file for llama.cpp */
} vqr_format;

/* Writes the model to `path` (which must not exist) in `format`. The quantized formats (GPTQ,
 * compressed-tensors, and GGUF's Q4_0/Q4_1/Q8_0 blocks) need the codes of the last
 * vqr_model_quantize; quantize with VQR_PARAM_SCALE_DTYPE = VQR_DTYPE_F16 for checkpoints whose
 * dequantized weights equal the model's bit for bit. dtype: storage of the dense tensors (F32, F16
 * or BF16; a tensor not exact in it is kept in F32, or F16 for GGUF, and the log says so).
 * max_shard_bytes: safetensors shard limit (0 = 5 GB). Decisions (checkpoint version, layers
 * stored unquantized, lossy conversions) are logged at VQR_LOG_INFO / VQR_LOG_WARN through ctx
 * (may be NULL). Written under a temporary name beside `path`, of this call alone
 * ("<path>.tmp-<pid>-XXXXXX" for a file, "<path>.partial-<pid>-XXXXXX" for a folder), and renamed:
 * a failure leaves nothing, and two exports to one path never share a temporary; the next export
 * to `path` removes such leftovers of a killed process once no process has their pid. Since 0.5.0
 * ctx's progress callback hears stage "export" (done = tensors of the weight file(s) written,
 * total = their count; once more at done == total before the rename), and the call checks for
 * cancellation (vqr_context_cancel, also one requested before the call, or the callback returning
 * non-zero) before writing anything and between tensors: it then returns VQR_ERR_CANCELLED and
 * leaves neither `path` nor a temporary.
 * Returns VQR_OK, VQR_ERR_INVALID_ARGUMENT (model or path NULL, path empty or existing, bad dtype,
 * max_shard_bytes < 0, format not a vqr_format), VQR_ERR_UNSUPPORTED (a format that cannot hold
 * this model, e.g. llama2.c for Qwen biases, compressed-tensors at 3 bits, a quantized format
 * before vqr_model_quantize, a format that needs a tokenizer the model lacks), VQR_ERR_IO,
 * VQR_ERR_CANCELLED (since 0.5.0). Since 0.4.0. */
VQR_API vqr_status vqr_model_export(vqr_context *ctx, const vqr_model *model, const char *path, vqr_format format,
                                    vqr_dtype dtype, int64_t max_shard_bytes);

/* "native", "huggingface", "llama2c", "gptq", "compressed-tensors", "gguf"; NULL for unknown.
 * Static storage. Cannot fail. Since 0.4.0. */
VQR_API const char *vqr_format_name(vqr_format format);

#endif /* VQR_EXPERIMENTAL */

#ifdef __cplusplus
}
#endif

#endif /* VQROUND_H */
