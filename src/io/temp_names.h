// Names of the temporaries that output files and folders are built under (atomic_file.h):
// "<path>.tmp-<pid>-XXXXXX" for a file, "<dir>.partial-<pid>-XXXXXX" for a folder. The random
// suffix makes each writer's name its own, so two writers of one path (threads of one process
// included) never share a temporary; the pid says whose it is, so the leftover of a killed writer
// can be told from the temporary of one still running.
#pragma once

#include <string>

namespace vqr::io {

// What a temporary will become; the word in its name.
enum class TempKind { kFile, kFolder };

// Creates a new temporary for `target` with create(2)/mkdir(2) semantics: O_CREAT | O_EXCL (a
// name that exists is never reused, another is tried) and mode 0666 (file) or 0777 (folder) less
// the umask, the mode a plain fopen or mkdir would give, which the renamed output keeps (mkstemp's
// and mkdtemp's 0600/0700 would not). Returns the name; for a file *fd receives the descriptor
// opened for writing (O_CLOEXEC). Throws Error(Status::Io) naming `target` when it cannot.
std::string create_temporary(const std::string &target, TempKind kind, int *fd);

// Removes the temporaries of `target` (of its kind) whose writer process no longer exists:
// kill(pid, 0) fails with ESRCH. Those of live processes (this one included) are left alone,
// whatever their age. Best effort: what cannot be listed or removed is skipped silently, since a
// leftover never stops a new writer. A writer in another pid namespace sharing the folder looks
// dead from here; that is the limit of the check.
void remove_stale_temporaries(const std::string &target, TempKind kind);

}  // namespace vqr::io
