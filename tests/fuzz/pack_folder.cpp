// Seed tool: packs the regular files of a model folder into fuzz_hf_folder's input layout
// (folder_container.h), in name order.
//   pack_folder DIR OUT
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "folder_container.h"

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s DIR OUT\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::vector<std::string> names;
  DIR *d = opendir(dir.c_str());
  if (!d) {
    perror(argv[1]);
    return 1;
  }
  while (const dirent *e = readdir(d)) {
    struct stat st;
    const std::string name = e->d_name;
    if (fuzz::safe_file_name(name) && stat((dir + "/" + name).c_str(), &st) == 0 && S_ISREG(st.st_mode))
      names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  if (names.empty() || names.size() > fuzz::kMaxEntries) {
    fprintf(stderr, "%s: %zu files; the layout holds 1..%zu\n", argv[1], names.size(), fuzz::kMaxEntries);
    return 1;
  }
  std::vector<uint8_t> packed;
  for (const std::string &name : names) {
    std::ifstream in(dir + "/" + name, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    fuzz::append_entry(packed, name, bytes);
  }
  FILE *f = fopen(argv[2], "wb");
  if (!f || fwrite(packed.data(), 1, packed.size(), f) != packed.size() || fclose(f) != 0) {
    perror(argv[2]);
    return 1;
  }
  return 0;
}
