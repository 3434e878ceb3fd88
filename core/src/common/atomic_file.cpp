#include "common/atomic_file.h"

#include "bonsai/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

namespace bonsai {

AtomicFile::AtomicFile(const std::string& path) : path_(path)
{
    std::string templ = path + ".tmp-XXXXXX";
    int fd = mkstemp(templ.data());
    if (fd < 0)
        throw FileError(path, std::string("cannot create: ") + std::strerror(errno));
    tmp_ = templ;
    f_ = fdopen(fd, "wb");
    if (!f_) {
        ::close(fd);
        ::unlink(tmp_.c_str());
        throw FileError(path, "cannot open for writing");
    }
}

AtomicFile::~AtomicFile()
{
    if (f_)
        std::fclose(f_);
    if (!committed_ && !tmp_.empty())
        ::unlink(tmp_.c_str());
}

void AtomicFile::write(const void* data, size_t bytes)
{
    if (bytes && std::fwrite(data, 1, bytes, f_) != bytes)
        throw FileError(path_, std::string("write failed: ") + std::strerror(errno));
}

void AtomicFile::commit()
{
    if (std::fflush(f_) != 0 || fsync(fileno(f_)) != 0)
        throw FileError(path_, std::string("write failed: ") + std::strerror(errno));
    const int closed = std::fclose(f_);
    f_ = nullptr;
    if (closed != 0)
        throw FileError(path_, std::string("write failed: ") + std::strerror(errno));
    ::chmod(tmp_.c_str(), 0644);
    // Fails when the folder was removed or made read-only meanwhile: the temporary goes too.
    if (std::rename(tmp_.c_str(), path_.c_str()) != 0)
        throw FileError(path_, std::string("cannot rename into place: ") + std::strerror(errno));
    committed_ = true;
    // The rename itself lasts once the folder's entry is on disk.
    const std::string dir = std::filesystem::path(path_).parent_path().string();
    const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        ::close(dfd);
    }
}

void writeFileAtomically(const std::string& path, const std::string& bytes)
{
    AtomicFile f(path);
    f.write(bytes.data(), bytes.size());
    f.commit();
}

} // namespace bonsai
