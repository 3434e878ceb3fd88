#include "bonsai/mapped_file.h"

#include "bonsai/error.h"
#include "common/regular_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

namespace bonsai {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path)
{
    uint64_t size = 0;
    const int fd = openRegularFile(path, &size);
    std::shared_ptr<MappedFile> f(new MappedFile);
    f->path_ = path;
    f->size_ = size;
    if (f->size_ > 0) {
        void* p = mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            throw FileError(path, std::string("cannot map: ") + std::strerror(e));
        }
        f->data_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);
    return f;
}

MappedFile::~MappedFile()
{
    if (data_)
        munmap(const_cast<uint8_t*>(data_), size_);
}

static void advise(const uint8_t* base, uint64_t size, uint64_t offset, uint64_t len, int how)
{
    if (!base || offset >= size)
        return;
    const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    // WILLNEED may round outwards; DONTNEED must only drop whole pages inside the range
    // (a neighbouring tensor may still be in use).
    uint64_t start = how == MADV_DONTNEED ? (offset + page - 1) & ~(page - 1) : offset & ~(page - 1);
    uint64_t end = std::min<uint64_t>(size, offset + len);
    if (how == MADV_DONTNEED && end != size)
        end &= ~(page - 1);
    if (end > start)
        madvise(const_cast<uint8_t*>(base) + start, end - start, how);
}

void MappedFile::adviseSequential(uint64_t offset, uint64_t len) const
{
#ifdef MADV_POPULATE_READ
    // Map the pages now, in one call, instead of one page fault per 64 KiB later.
    advise(data_, size_, offset, len, MADV_POPULATE_READ);
#else
    advise(data_, size_, offset, len, MADV_WILLNEED);
#endif
}

void MappedFile::adviseDontNeed(uint64_t offset, uint64_t len) const
{
    advise(data_, size_, offset, len, MADV_DONTNEED);
}

} // namespace bonsai
