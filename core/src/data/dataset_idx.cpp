// IDX data sets (MNIST, Fashion-MNIST): an images file (magic 0x00000803, big-endian
// [N, H, W] of uint8) and a labels file (0x00000801, [N] of uint8), raw or gzip-compressed
// (detected by the magic bytes 1f 8b). Raw files are memory-mapped; gzip files are inflated
// once, with a cap derived from the header and the length verified.
#include "bonsai/dataset.h"

#include "bonsai/mapped_file.h"

#include <cstring>

namespace bonsai {

namespace {

uint32_t be32(const uint8_t* p)
{
    return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3];
}

struct Idx {
    std::vector<int64_t> dims;
    const uint8_t* data = nullptr; // payload after the header
    std::shared_ptr<const void> owner;
};

std::string hex(uint32_t v)
{
    char b[16];
    std::snprintf(b, sizeof b, "0x%08X", v);
    return b;
}

// Header size and payload size of an IDX file of `rank` dims, from its first bytes.
uint64_t payloadSize(const std::string& path, const uint8_t* h, uint64_t avail, uint32_t magic,
                     const char* what, std::vector<int64_t>& dims)
{
    const uint64_t rank = magic & 0xFF;
    if (avail >= 4 && be32(h) != magic) {
        const uint32_t m = be32(h);
        const bool other = m == 0x00000801 || m == 0x00000803;
        throw FileError(path, "not an IDX " + std::string(what) + " file (magic " + hex(m) +
                                  ", expected " + hex(magic) + ")" +
                                  (other ? std::string("; images and labels swapped?") : ""));
    }
    if (avail < 4 + 4 * rank)
        throw FileError(path, std::string("truncated IDX header (") + what + " file)");
    uint64_t bytes = 1;
    for (uint64_t i = 0; i < rank; ++i) {
        const uint32_t d = be32(h + 4 + 4 * i);
        dims.push_back(d);
        if (d == 0 || d > (1u << 30))
            throw FileError(path, "bad IDX dimension " + std::to_string(d));
        bytes *= d;
        if (bytes > (uint64_t(1) << 40))
            throw FileError(path, "IDX dimensions too large");
    }
    return bytes;
}

Idx readIdx(const std::string& path, uint32_t magic, const char* what)
{
    auto f = MappedFile::open(path);
    const uint64_t header = 4 + 4 * (magic & 0xFF);
    Idx idx;
    const bool gz = f->size() >= 2 && f->data()[0] == 0x1f && f->data()[1] == 0x8b;
    if (!gz) {
        const uint64_t bytes = payloadSize(path, f->data(), f->size(), magic, what, idx.dims);
        if (f->size() - header != bytes)
            throw FileError(path, std::string(f->size() - header < bytes ? "truncated" : "oversized") +
                                      ": " + std::to_string(f->size() - header) +
                                      " data bytes, the header says " + std::to_string(bytes));
        idx.data = f->data() + header;
        idx.owner = f;
        return idx;
    }
    const auto head = detail::inflateData(path, f->data(), f->size(), 31, header, false);
    const uint64_t bytes = payloadSize(path, head.data(), head.size(), magic, what, idx.dims);
    auto all = std::make_shared<std::vector<uint8_t>>(
        detail::inflateData(path, f->data(), f->size(), 31, header + bytes, true));
    idx.data = all->data() + header;
    idx.owner = all;
    return idx;
}

} // namespace

std::unique_ptr<Dataset> openIdxDataset(const std::string& images, const std::string& labels,
                                        const DatasetOptions& options)
{
    Idx x = readIdx(images, 0x00000803, "images");
    const Idx y = readIdx(labels, 0x00000801, "labels");
    if (y.dims[0] != x.dims[0])
        throw FileError(labels, "has " + std::to_string(y.dims[0]) + " labels but " + images + " has " +
                                    std::to_string(x.dims[0]) + " images");
    std::vector<int64_t> lab(y.data, y.data + y.dims[0]);
    detail::RawArray a;
    a.dtype = "u1";
    a.shape = x.dims;
    a.data = x.data;
    a.owner = x.owner;
    return detail::makeArrayDataset(images, "IDX", std::move(a), std::move(lab), labels, options);
}

} // namespace bonsai
