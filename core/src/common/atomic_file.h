#pragma once
// Writes a file through a temporary in the same directory, renamed into place on commit():
// a failed or interrupted write never leaves a half-written output file.
#include <cstdio>
#include <string>

namespace bonsai {

class AtomicFile {
public:
    explicit AtomicFile(const std::string& path); // throws FileError
    ~AtomicFile();                                 // removes the temporary unless committed
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    void write(const void* data, size_t bytes); // throws FileError
    void commit();                              // flush, fsync, rename; throws FileError

private:
    std::string path_, tmp_;
    std::FILE* f_ = nullptr;
    bool committed_ = false;
};

// Writes `bytes` to `path` through an AtomicFile (FileError).
void writeFileAtomically(const std::string& path, const std::string& bytes);

} // namespace bonsai
