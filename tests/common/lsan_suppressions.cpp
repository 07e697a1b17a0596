// LeakSanitizer suppressions for the gtest programs of clang sanitizer builds. clang's -fopenmp
// links LLVM's OpenMP runtime (libomp); under it test_learn_kmeans_textbook (parallel regions of
// 1, 2, 3 and 8 threads) ends with a "direct leak" of a few KB allocated inside libomp.so, no
// library frame on the stack: the runtime's own bookkeeping, not ours. GCC builds (libgomp) report
// nothing and link none of this.
extern "C" const char *__lsan_default_suppressions() { return "leak:libomp.so\n"; }
