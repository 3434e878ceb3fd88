#include "common/regular_file.h"

#include "bonsai/error.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace bonsai {

namespace fs = std::filesystem;

namespace {

const char* kindOf(mode_t mode)
{
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISCHR(mode))
        return "a character device";
    if (S_ISBLK(mode))
        return "a block device";
    if (S_ISSOCK(mode))
        return "a socket";
    return "not a plain file";
}

std::string megabytes(uint64_t bytes)
{
    return bytes >= (1u << 20) ? std::to_string(bytes >> 20) + " MB" : std::to_string(bytes) + " bytes";
}

// The folder the model's files must stay in: `folder` itself, or the repository folder of a
// Hugging Face cache snapshot (models--org--name/snapshots/REV, whose files link to ../../blobs).
fs::path confinement(const fs::path& folder)
{
    if (folder.parent_path().filename() == "snapshots" && fs::is_directory(folder.parent_path().parent_path() / "blobs"))
        return folder.parent_path().parent_path();
    return folder;
}

bool isWithin(const fs::path& p, const fs::path& root)
{
    auto r = root.begin();
    auto q = p.begin();
    for (; r != root.end(); ++r, ++q) {
        if (r->empty()) // a trailing separator
            continue;
        if (q == p.end() || *q != *r)
            return false;
    }
    return true;
}

} // namespace

int openRegularFile(const std::string& path, uint64_t* size)
{
    // O_NONBLOCK: opening a FIFO with no writer returns at once instead of waiting for one.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT)
            throw FileError(path, "no such file");
        if (e == ENXIO) // a socket
            throw FileError(path, "not a regular file (a socket)");
        throw FileError(path, std::string("cannot open: ") + std::strerror(e));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        throw FileError(path, std::string("cannot stat: ") + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw FileError(path, std::string("not a regular file (") + kindOf(st.st_mode) + ")");
    }
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0)
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
    if (size)
        *size = static_cast<uint64_t>(st.st_size);
    return fd;
}

std::string readRegularFile(const std::string& path, uint64_t maxBytes, const std::string& what)
{
    uint64_t size = 0;
    const int fd = openRegularFile(path, &size);
    std::string bytes;
    std::string fault;
    if (size > maxBytes) {
        fault = what + " larger than " + megabytes(maxBytes);
    } else {
        bytes.reserve(static_cast<size_t>(size));
        char buf[65536];
        for (;;) { // to the end, which may have moved since fstat
            const ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                fault = "cannot read: " + std::string(std::strerror(errno));
                break;
            }
            if (n == 0)
                break;
            if (bytes.size() + static_cast<uint64_t>(n) > maxBytes) {
                fault = what + " larger than " + megabytes(maxBytes);
                break;
            }
            bytes.append(buf, static_cast<size_t>(n));
        }
    }
    ::close(fd);
    if (!fault.empty())
        throw FileError(path, fault);
    return bytes;
}

void requireInsideFolder(const std::string& path, const std::string& folder)
{
    std::error_code ec;
    if (!fs::exists(fs::symlink_status(path, ec)))
        return;
    const fs::path root = confinement(fs::weakly_canonical(folder.empty() ? fs::path(".") : fs::path(folder), ec));
    const fs::path resolved = fs::weakly_canonical(path, ec);
    if (ec)
        throw FileError(path, "cannot resolve the path: " + ec.message());
    if (isWithin(resolved, root))
        return;
    std::string link;
    if (fs::is_symlink(fs::symlink_status(path, ec)))
        link = "a symbolic link to '" + fs::read_symlink(path, ec).string() + "', which ";
    throw FileError(path, link + "resolves to '" + resolved.string() + "', outside the model's folder '" +
                              root.string() + "'");
}

} // namespace bonsai
