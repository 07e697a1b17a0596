"""Where the Python tests find the shared data folder (stories260K, TinyStories text):
$VQR_DATA_DIR, else $VQR_DATA_DIR_DEFAULT (set by ctest), else ../shared/data beside the source
tree. require_stories260k() is for setUpModule: without the data every test of the module is
skipped, unless VQR_REQUIRE_DATA=1 (CI), which makes its absence a failure.
"""
import os
import unittest


def _data_dir():
    for var in ("VQR_DATA_DIR", "VQR_DATA_DIR_DEFAULT"):
        v = os.environ.get(var)
        if v:
            return v if os.path.isdir(v) else None
    here = os.path.dirname(os.path.abspath(__file__))
    fallback = os.path.join(here, "..", "..", "..", "shared", "data")
    return fallback if os.path.isdir(fallback) else None


DATA = _data_dir()
MODEL_DIR = os.path.join(DATA or "", "models", "stories260K")
MODEL_FILE = os.path.join(MODEL_DIR, "stories260K.bin")
TOKENIZER_FILE = os.path.join(MODEL_DIR, "tok512.bin")
TEXT_FILE = os.path.join(DATA or "", "text", "tinystories", "tinystories_val.txt")


def require_stories260k():
    if DATA is None or not os.path.isfile(MODEL_FILE):
        if os.environ.get("VQR_REQUIRE_DATA") == "1":
            raise RuntimeError("VQR_REQUIRE_DATA=1 but the shared data folder (stories260K) is "
                               "missing; set VQR_DATA_DIR")
        raise unittest.SkipTest("shared data folder not found (set VQR_DATA_DIR); skipping")
