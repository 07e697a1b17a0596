/* model_files.h — file helpers of the C tests that run on the shared data folder: folder
 * checks, reading a whole file, removing what the library wrote, and finding the data. Needs
 * _POSIX_C_SOURCE 200809L before the first include, and check.h (note()). Each helper is marked
 * unused (a GNU attribute GCC and clang accept under -pedantic): a program uses some of them. */
#ifndef VQR_TEST_MODEL_FILES_H
#define VQR_TEST_MODEL_FILES_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VQR_TEST_HELPER __attribute__((unused))

VQR_TEST_HELPER static int is_dir(const char *p) {
  struct stat st;
  return p && *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

VQR_TEST_HELPER static int exists(const char *p) {
  struct stat st;
  return stat(p, &st) == 0;
}

/* $VQR_DATA_DIR, else $VQR_DATA_DIR_DEFAULT (set by ctest); NULL when neither names a folder. */
VQR_TEST_HELPER static const char *data_dir(void) {
  const char *vars[2] = {"VQR_DATA_DIR", "VQR_DATA_DIR_DEFAULT"};
  int i;
  for (i = 0; i < 2; ++i) {
    const char *v = getenv(vars[i]);
    if (v && *v) return is_dir(v) ? v : NULL;
  }
  return NULL;
}

/* Without the data folder: missing_data_fails() says (with a note) whether that fails the run
 * (VQR_REQUIRE_DATA=1, as CI sets); exit_without_data() is main's return value for a program that
 * needs the data throughout (EXIT_SUCCESS after the note ctest reports as a skip). */
VQR_TEST_HELPER static int missing_data_fails(void) {
  const char *req = getenv("VQR_REQUIRE_DATA");
  if (!req || strcmp(req, "1") != 0) return 0;
  note("FAIL: VQR_REQUIRE_DATA=1 but the shared data folder (stories260K) is missing\n");
  return 1;
}

VQR_TEST_HELPER static int exit_without_data(void) {
  if (missing_data_fails()) return EXIT_FAILURE;
  note("skipped: shared data folder not found (set VQR_DATA_DIR)\n");
  return EXIT_SUCCESS;
}

/* The whole file, NUL-terminated (malloc'd); NULL on failure. */
VQR_TEST_HELPER static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  long n;
  if (!f) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = (char *)malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
      buf[n] = '\0';
      if (size) *size = (size_t)n;
    } else {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

/* Removes a folder and the plain files in it (what vqr_model_save writes); missing is fine. */
VQR_TEST_HELPER static void remove_tree(const char *dir) {
  DIR *d = opendir(dir);
  char path[4096];
  if (d) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      if (is_dir(path))
        remove_tree(path);
      else
        remove(path);
    }
    closedir(d);
  }
  rmdir(dir);
}

#endif /* VQR_TEST_MODEL_FILES_H */
