#pragma once
// Opening the files a model, a recipe or a data set is read from. Only regular files are read
// as data: a FIFO, device, socket or directory where a file belongs is refused without
// blocking (a FIFO without a writer would block open() or read() forever; /dev/zero never
// ends). Files a model refers to beside itself (shards, external data, config.json, the
// tokenizer) must resolve inside the model's folder: a symbolic link leading out is refused.
#include <cstdint>
#include <string>

namespace bonsai {

// The limit for the JSON and tokenizer files beside a model (config.json, an index,
// tokenizer.json / tokenizer.model): the largest real ones are tens of MB.
constexpr uint64_t kMaxSideFileBytes = uint64_t(256) << 20;

// A descriptor open for reading (close-on-exec, blocking) on the regular file at `path`, and
// its size in *size. FileError naming the path when it cannot be opened or is not a regular
// file ("not a regular file (a FIFO)").
int openRegularFile(const std::string& path, uint64_t* size = nullptr);

// The whole regular file at `path`; FileError when larger than `maxBytes` (`what` names the
// file's role in that message: "recipe", "text file").
std::string readRegularFile(const std::string& path, uint64_t maxBytes, const std::string& what);

// FileError unless `path`, a file the model in `folder` refers to, resolves inside that folder:
// a symbolic link to somewhere else is refused naming the link and where it points. A file that
// does not exist passes (its reader reports it). A Hugging Face cache snapshot
// (.../snapshots/REV) links its files into the repository's blobs/ folder: the repository
// folder counts as the model's folder there.
void requireInsideFolder(const std::string& path, const std::string& folder);

} // namespace bonsai
