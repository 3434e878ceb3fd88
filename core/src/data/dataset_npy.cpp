// NumPy data sets: .npy arrays (format 1.0-3.0, little-endian, C or Fortran order) and .npz
// archives (a zip of .npy members, stored or deflated) read through a minimal zip
// central-directory reader.
#include "bonsai/dataset.h"

#include "bonsai/half.h"
#include "bonsai/mapped_file.h"
#include "bonsai/shape.h"

#include <zlib.h>

#include <cstring>
#include <limits>

namespace bonsai {
namespace detail {

int RawArray::itemSize() const
{
    return dtype.empty() ? 0 : dtype[1] - '0';
}

double RawArray::at(uint64_t index) const
{
    const uint8_t* p = data + index * static_cast<uint64_t>(itemSize());
    auto get = [p](auto v) {
        std::memcpy(&v, p, sizeof v);
        return v;
    };
    const char k = dtype[0];
    switch (itemSize()) {
    case 1:
        return k == 'i' ? double(get(int8_t())) : double(get(uint8_t()));
    case 2:
        return k == 'f' ? double(fp16ToFloat(get(uint16_t()))) : k == 'i' ? double(get(int16_t())) : double(get(uint16_t()));
    case 4:
        return k == 'f' ? double(get(float())) : k == 'i' ? double(get(int32_t())) : double(get(uint32_t()));
    default:
        return k == 'f' ? get(double()) : k == 'i' ? double(get(int64_t())) : double(get(uint64_t()));
    }
}

namespace {

uint32_t rd32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | uint32_t(p[3]) << 24; }
uint16_t rd16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
uint64_t rd64(const uint8_t* p) { return rd32(p) | uint64_t(rd32(p + 4)) << 32; }

// The text after 'key': in a Python dict literal, or empty.
std::string valueOf(const std::string& h, const std::string& key)
{
    size_t i = h.find("'" + key + "'");
    if (i == std::string::npos)
        i = h.find("\"" + key + "\"");
    if (i == std::string::npos)
        return {};
    i = h.find(':', i);
    if (i == std::string::npos)
        return {};
    ++i;
    while (i < h.size() && h[i] == ' ')
        ++i;
    return h.substr(i);
}

} // namespace

RawArray parseNpy(const std::string& path, const uint8_t* data, uint64_t size,
                  std::shared_ptr<const void> owner)
{
    if (size < 10 || std::memcmp(data, "\x93NUMPY", 6) != 0)
        throw FileError(path, "not a NumPy .npy file (bad magic)");
    const int major = data[6];
    if (major < 1 || major > 3)
        throw FileError(path, "unsupported .npy version " + std::to_string(major));
    const uint64_t hlen = major == 1 ? rd16(data + 8) : (size >= 12 ? rd32(data + 8) : ~0u);
    const uint64_t start = (major == 1 ? 10 : 12) + hlen;
    if (start > size)
        throw FileError(path, "truncated .npy header");
    const std::string h(reinterpret_cast<const char*>(data) + (major == 1 ? 10 : 12), hlen);
    RawArray a;
    const std::string descr = valueOf(h, "descr");
    if (descr.size() < 5 || (descr[0] != '\'' && descr[0] != '"') || descr[4] != descr[0])
        throw FileError(path, "unsupported .npy dtype (only plain numeric types are read)");
    const char order = descr[1];
    a.dtype = descr.substr(2, 2);
    static const char* known[] = {"u1", "i1", "b1", "u2", "i2", "f2", "u4", "i4", "f4", "u8", "i8", "f8"};
    bool ok = false;
    for (const char* k : known)
        ok = ok || a.dtype == k;
    if (!ok)
        throw FileError(path, "unsupported .npy dtype " + descr.substr(0, 5));
    if (order == '>' && a.itemSize() > 1)
        throw FileError(path, "big-endian .npy data (" + descr.substr(1, 3) + ") is not supported");
    if (order != '<' && order != '|' && order != '=' && order != '>')
        throw FileError(path, "unsupported .npy dtype " + descr.substr(0, 5));
    const std::string fo = valueOf(h, "fortran_order");
    if (fo.rfind("True", 0) != 0 && fo.rfind("False", 0) != 0)
        throw FileError(path, "bad .npy header (fortran_order)");
    a.fortran = fo[0] == 'T';
    const std::string sh = valueOf(h, "shape");
    const size_t close = sh.find(')');
    if (sh.empty() || sh[0] != '(' || close == std::string::npos)
        throw FileError(path, "bad .npy header (shape)");
    uint64_t numel = 1;
    for (size_t i = 1; i < close;) {
        while (i < close && (sh[i] == ' ' || sh[i] == ','))
            ++i;
        if (i == close)
            break;
        int64_t v = 0;
        size_t j = i;
        while (j < close && sh[j] >= '0' && sh[j] <= '9' && v < (int64_t(1) << 50))
            v = v * 10 + (sh[j++] - '0');
        if (j == i || a.shape.size() >= 8 || (j < close && sh[j] >= '0' && sh[j] <= '9'))
            throw FileError(path, "bad .npy header (shape)");
        a.shape.push_back(v);
        const auto n = checkedNumel(a.shape, uint64_t(1) << 50);
        if (!n)
            throw FileError(path, "array shape too large");
        numel = *n;
        i = j;
        if (i < close && sh[i] == 'L')
            ++i;
    }
    const uint64_t bytes = numel * static_cast<uint64_t>(a.itemSize());
    if (size - start != bytes)
        throw FileError(path, (size - start < bytes ? "truncated: " : "size mismatch: ") +
                                  std::to_string(size - start) + " data bytes for " +
                                  std::to_string(bytes) + " expected");
    a.data = data + start;
    a.owner = std::move(owner);
    return a;
}

namespace {

struct Member {
    std::string name;
    uint16_t method = 0, flags = 0;
    uint32_t crc = 0;
    uint64_t csize = 0, usize = 0, offset = 0;
};

std::vector<Member> zipDirectory(const MappedFile& f)
{
    const std::string& path = f.path();
    const uint8_t* d = f.data();
    const uint64_t n = f.size();
    if (n < 22)
        throw FileError(path, "not a zip (.npz) file: too small");
    uint64_t eocd = n - 22;
    const uint64_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
    while (rd32(d + eocd) != 0x06054b50) {
        if (eocd == lowest)
            throw FileError(path, "not a zip (.npz) file: no end of central directory");
        --eocd;
    }
    uint64_t count = rd16(d + eocd + 10), cdSize = rd32(d + eocd + 12), cdOff = rd32(d + eocd + 16);
    if ((count == 0xFFFF || cdOff == 0xFFFFFFFF) && eocd >= 20 && rd32(d + eocd - 20) == 0x07064b50) {
        const uint64_t z = rd64(d + eocd - 20 + 8);
        if (n < 56 || z > n - 56 || rd32(d + z) != 0x06064b50)
            throw FileError(path, "corrupt zip64 end of central directory");
        count = rd64(d + z + 32), cdSize = rd64(d + z + 40), cdOff = rd64(d + z + 48);
    }
    if (cdOff > n || cdSize > n - cdOff || count > cdSize / 46)
        throw FileError(path, "corrupt zip central directory");
    std::vector<Member> members;
    for (uint64_t p = cdOff, i = 0; i < count; ++i) {
        if (p + 46 > cdOff + cdSize || rd32(d + p) != 0x02014b50)
            throw FileError(path, "corrupt zip central directory entry " + std::to_string(i));
        Member m;
        m.flags = rd16(d + p + 8), m.method = rd16(d + p + 10), m.crc = rd32(d + p + 16);
        m.csize = rd32(d + p + 20), m.usize = rd32(d + p + 24), m.offset = rd32(d + p + 42);
        const uint64_t nl = rd16(d + p + 28), el = rd16(d + p + 30), cl = rd16(d + p + 32);
        if (p + 46 + nl + el + cl > cdOff + cdSize)
            throw FileError(path, "corrupt zip central directory entry " + std::to_string(i));
        m.name.assign(reinterpret_cast<const char*>(d + p + 46), nl);
        for (uint64_t e = p + 46 + nl; e + 4 <= p + 46 + nl + el;) { // zip64 extra: sizes, offset
            const uint16_t id = rd16(d + e), len = rd16(d + e + 2);
            uint64_t q = e + 4, qend = std::min<uint64_t>(q + len, p + 46 + nl + el);
            if (id == 0x0001)
                for (uint64_t* v : {&m.usize, &m.csize, &m.offset})
                    if (*v == 0xFFFFFFFF && q + 8 <= qend)
                        *v = rd64(d + q), q += 8;
            e += 4 + len;
        }
        members.push_back(m);
        p += 46 + nl + el + cl;
    }
    return members;
}

// The .npy array held by a member: mapped in place when stored, inflated when deflated.
RawArray readMember(const std::shared_ptr<MappedFile>& f, const Member& m)
{
    const std::string& path = f->path();
    const uint8_t* d = f->data();
    const uint64_t n = f->size();
    if (m.flags & 1)
        throw FileError(path, m.name + " is encrypted");
    if (m.offset > n || n - m.offset < 30 || rd32(d + m.offset) != 0x04034b50)
        throw FileError(path, m.name + ": corrupt local header");
    const uint64_t start = m.offset + 30 + rd16(d + m.offset + 26) + rd16(d + m.offset + 28);
    if (start > n || m.csize > n - start)
        throw FileError(path, m.name + ": truncated member data");
    const uint8_t* src = d + start;
    std::shared_ptr<const void> owner = f;
    const uint8_t* bytes = src;
    if (m.method == 8) {
        auto buf = std::make_shared<std::vector<uint8_t>>(inflateData(path, src, m.csize, -15, m.usize, true));
        bytes = buf->data();
        owner = buf;
    } else if (m.method != 0) {
        throw FileError(path, m.name + ": unsupported zip compression method " + std::to_string(m.method));
    } else if (m.csize != m.usize) {
        throw FileError(path, m.name + ": stored member with differing sizes");
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    for (uint64_t o = 0; o < m.usize; o += 1u << 30)
        crc = crc32(crc, bytes + o, static_cast<uInt>(std::min<uint64_t>(m.usize - o, 1u << 30)));
    if (crc != m.crc)
        throw FileError(path, m.name + ": CRC mismatch (corrupt member)");
    try {
        return parseNpy(path, bytes, m.usize, owner);
    } catch (const FileError& e) {
        throw FileError(path, m.name + ": " + e.fault());
    }
}

std::vector<int64_t> labelsOf(const std::string& path, const RawArray& y)
{
    if (y.shape.empty() || y.shape.size() > 2 || (y.shape.size() == 2 && y.shape[1] != 1))
        throw FileError(path, "labels must be class indices of shape [N] (got rank " +
                                  std::to_string(y.shape.size()) + ")");
    std::vector<int64_t> labels(static_cast<size_t>(y.shape[0]));
    for (size_t i = 0; i < labels.size(); ++i) {
        const double v = y.at(i);
        if (!(v >= 0 && v < double(int64_t(1) << 24)) || v != static_cast<double>(static_cast<int64_t>(v)))
            throw FileError(path, "label " + std::to_string(v) + " at index " + std::to_string(i) +
                                      " is not a class index");
        labels[i] = static_cast<int64_t>(v);
    }
    return labels;
}

} // namespace
} // namespace detail

std::unique_ptr<Dataset> openNpzDataset(const std::string& path, const DatasetOptions& options)
{
    auto f = MappedFile::open(path);
    const auto members = detail::zipDirectory(*f);
    const detail::Member *x = nullptr, *y = nullptr;
    for (const auto& m : members) {
        if (m.name == "x.npy" || m.name == "x" || m.name == "X.npy")
            x = &m;
        if (m.name == "y.npy" || m.name == "y")
            y = &m;
    }
    if (!x || !y) {
        std::string names;
        for (const auto& m : members)
            names += (names.empty() ? "" : ", ") + m.name;
        throw FileError(path, std::string("no ") + (!x ? "x" : "y") + " array (members: " +
                                  (names.empty() ? "none" : names) + "); expected x.npy and y.npy");
    }
    detail::RawArray xa = detail::readMember(f, *x);
    const detail::RawArray ya = detail::readMember(f, *y);
    std::vector<int64_t> labels;
    try {
        labels = detail::labelsOf(path, ya);
    } catch (const FileError& e) {
        throw FileError(path, "y.npy: " + e.fault());
    }
    if (static_cast<int64_t>(labels.size()) != (xa.shape.empty() ? 0 : xa.shape[0]))
        throw FileError(path, "y has " + std::to_string(labels.size()) + " labels but x has " +
                                  std::to_string(xa.shape.empty() ? 0 : xa.shape[0]) + " samples");
    return detail::makeArrayDataset(path, "npz", std::move(xa), std::move(labels), path, options);
}

std::unique_ptr<Dataset> openNpyDataset(const std::string& x, const std::string& y,
                                        const DatasetOptions& options)
{
    auto fx = MappedFile::open(x);
    auto fy = MappedFile::open(y);
    detail::RawArray xa = detail::parseNpy(x, fx->data(), fx->size(), fx);
    const detail::RawArray ya = detail::parseNpy(y, fy->data(), fy->size(), fy);
    return detail::makeArrayDataset(x, "npy", std::move(xa), detail::labelsOf(y, ya), y, options);
}

} // namespace bonsai
