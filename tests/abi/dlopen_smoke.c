/*
 * dlopen_smoke.c — what an inference server does: load libvqround by path at run time (argv[1]),
 * look up entry points with dlsym, call them, unload. The program is not linked to the library;
 * the header is used for its types and macros only. RTLD_NOW makes every undefined reference of
 * the library resolve at load time, so a missing dependency fails here, not in the middle of a run.
 */
#define _POSIX_C_SOURCE 200809L
#include <vqround/vqround.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef unsigned (*version_number_fn)(void);
typedef const char *(*string_fn)(void);
typedef const char *(*status_string_fn)(vqr_status);
typedef vqr_status (*config_create_fn)(vqr_config **);
typedef void (*config_free_fn)(vqr_config *);

static int failures = 0;

#define EXPECT(expr)                                                          \
  do {                                                                        \
    if (!(expr)) {                                                            \
      fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, __LINE__, #expr);      \
      ++failures;                                                             \
    }                                                                         \
  } while (0)

/* dlsym returns an object pointer; POSIX guarantees it converts to a function pointer. The
 * memcpy keeps ISO C's -pedantic quiet about that conversion. */
static void *lookup(void *handle, const char *name, void *fn_out, size_t fn_size) {
  void *sym;
  dlerror();
  sym = dlsym(handle, name);
  if (sym == NULL) {
    const char *err = dlerror();
    fprintf(stderr, "dlsym(%s) failed: %s\n", name, err ? err : "(symbol is NULL)");
    ++failures;
    return NULL;
  }
  memcpy(fn_out, &sym, fn_size);
  return sym;
}

int main(int argc, char **argv) {
  void *handle;
  version_number_fn version_number = NULL;
  string_fn version_string = NULL, last_error = NULL;
  status_string_fn status_string = NULL;
  config_create_fn config_create = NULL;
  config_free_fn config_free = NULL;
  if (argc != 2) {
    fprintf(stderr, "usage: %s /path/to/libvqround.so\n", argv[0]);
    return 2;
  }
  handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    fprintf(stderr, "dlopen(%s) failed: %s\n", argv[1], dlerror());
    return 1;
  }
  lookup(handle, "vqr_version_number", &version_number, sizeof version_number);
  lookup(handle, "vqr_version_string", &version_string, sizeof version_string);
  lookup(handle, "vqr_status_string", &status_string, sizeof status_string);
  lookup(handle, "vqr_last_error", &last_error, sizeof last_error);
  lookup(handle, "vqr_config_create", &config_create, sizeof config_create);
  lookup(handle, "vqr_config_free", &config_free, sizeof config_free);

  if (version_number) {
    unsigned v = version_number();
    printf("vqr_version_number() = %u (header %d)\n", v, VQR_VERSION_NUMBER);
    EXPECT(v == VQR_VERSION_NUMBER);
    EXPECT(v / 10000 == VQR_VERSION_MAJOR); /* the check a loader makes before using the library */
  }
  if (version_string) {
    const char *s = version_string();
    EXPECT(s != NULL && strcmp(s, VQR_VERSION_STRING) == 0);
  }
  if (status_string) {
    const char *ok = status_string(VQR_OK), *bad = status_string(VQR_ERR_INVALID_ARGUMENT);
    const char *unknown = status_string((vqr_status)12345);
    printf("vqr_status_string(-1) = \"%s\"\n", bad ? bad : "(NULL)");
    EXPECT(ok != NULL && ok[0] != '\0');
    EXPECT(bad != NULL && strcmp(bad, "invalid argument") == 0);
    EXPECT(unknown != NULL && strcmp(unknown, "unknown status") == 0);
  }
  if (config_create && config_free && last_error) {
    vqr_config *cfg = NULL;
    EXPECT(config_create(NULL) == VQR_ERR_INVALID_ARGUMENT); /* an error inside, no crash */
    EXPECT(last_error()[0] != '\0');
    EXPECT(config_create(&cfg) == VQR_OK && cfg != NULL);
    config_free(cfg);
  }
  /* Internal C++ symbols stay invisible even to dlsym. */
  dlerror();
  EXPECT(dlsym(handle, "_ZN3vqr5ErrorD2Ev") == NULL);

  if (dlclose(handle) != 0) {
    fprintf(stderr, "dlclose failed: %s\n", dlerror());
    ++failures;
  }
  if (failures) fprintf(stderr, "%d failure(s)\n", failures);
  return failures ? 1 : 0;
}
