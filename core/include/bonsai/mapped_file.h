#pragma once
// A read-only memory mapping of a whole file. Opening touches no data pages.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace bonsai {

class MappedFile {
public:
    // Throws FileError when the file cannot be opened or mapped or is no regular file (a FIFO,
    // device or directory is refused without blocking).
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    uint64_t size() const { return size_; }
    const std::string& path() const { return path_; }

    // Hint the kernel that [offset, offset+len) will be read sequentially soon / is done with.
    void adviseSequential(uint64_t offset, uint64_t len) const;
    void adviseDontNeed(uint64_t offset, uint64_t len) const;

private:
    MappedFile() = default;
    std::string path_;
    const uint8_t* data_ = nullptr;
    uint64_t size_ = 0;
};

} // namespace bonsai
