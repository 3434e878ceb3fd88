// SentencePiece BPE without the library: see spm.h.
#include "tokenizer/spm.h"

#include <cstring>
#include <queue>
#include <stdexcept>

namespace bonsai::spm {

namespace {

// ---- protobuf wire format (just what ModelProto needs) ----

struct Reader {
    const uint8_t* p;
    const uint8_t* end;
    bool ok = true;

    bool done() const { return !ok || p >= end; }
    uint64_t varint()
    {
        uint64_t r = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (p >= end) {
                ok = false;
                return 0;
            }
            const uint8_t c = *p++;
            r |= uint64_t(c & 0x7F) << shift;
            if (!(c & 0x80))
                return r;
        }
        ok = false;
        return 0;
    }
    std::string_view bytes()
    {
        const uint64_t n = varint();
        if (!ok || n > uint64_t(end - p)) {
            ok = false;
            return {};
        }
        std::string_view s(reinterpret_cast<const char*>(p), n);
        p += n;
        return s;
    }
    uint32_t fixed32()
    {
        if (end - p < 4) {
            ok = false;
            return 0;
        }
        uint32_t v;
        std::memcpy(&v, p, 4);
        p += 4;
        return v;
    }
    void skip(int wireType)
    {
        switch (wireType) {
        case 0: varint(); break;
        case 1: if (end - p < 8) ok = false; else p += 8; break;
        case 2: bytes(); break;
        case 5: fixed32(); break;
        default: ok = false;
        }
    }
};

Reader reader(std::string_view s)
{
    const auto* b = reinterpret_cast<const uint8_t*>(s.data());
    return Reader{b, b + s.size()};
}

// ---- Darts-clone double array (the precompiled character map's trie) ----

inline bool hasLeaf(uint32_t u) { return (u >> 8) & 1; }
inline uint32_t value(uint32_t u) { return u & ((1U << 31) - 1); }
inline uint32_t label(uint32_t u) { return u & ((1U << 31) | 0xFF); }
inline uint32_t offset(uint32_t u) { return (u >> 10) << ((u & (1U << 9)) >> 6); }

size_t utf8Length(std::string_view s)
{
    const auto c = static_cast<uint8_t>(s[0]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || n > s.size())
        return 0;
    for (size_t i = 1; i < n; ++i)
        if ((static_cast<uint8_t>(s[i]) & 0xC0) != 0x80)
            return 0;
    return n;
}

// The byte a byte piece "<0xAB>" stands for; -1 for any other text (a file may label any
// piece a byte).
int bytePieceValue(std::string_view p)
{
    if (p.size() != 6 || p.substr(0, 3) != "<0x" || p[5] != '>')
        return -1;
    auto hex = [](char c) {
        return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    };
    const int hi = hex(p[3]), lo = hex(p[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

constexpr std::string_view kSpace = "\xE2\x96\x81"; // U+2581, SentencePiece's visible space
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";

} // namespace

std::optional<Vocabulary> parseModelProto(std::string_view bytes, std::string& error)
{
    Vocabulary v;
    v.removeExtraWhitespaces = true;
    Reader r = reader(bytes);
    while (!r.done()) {
        const uint64_t key = r.varint();
        const int field = int(key >> 3), wire = int(key & 7);
        if (field == 1 && wire == 2) {
            Reader p = reader(r.bytes());
            std::string piece;
            float score = 0;
            int type = 1;
            while (!p.done()) {
                const uint64_t k = p.varint();
                if ((k >> 3) == 1 && (k & 7) == 2) {
                    piece = std::string(p.bytes());
                } else if ((k >> 3) == 2 && (k & 7) == 5) {
                    const uint32_t bits = p.fixed32();
                    std::memcpy(&score, &bits, 4);
                } else if ((k >> 3) == 3 && (k & 7) == 0) {
                    type = int(p.varint());
                } else {
                    p.skip(int(k & 7));
                }
            }
            if (!p.ok || type < 1 || type > 6) {
                error = "malformed piece " + std::to_string(v.pieces.size());
                return std::nullopt;
            }
            v.pieces.push_back(std::move(piece));
            v.scores.push_back(score);
            v.types.push_back(static_cast<PieceType>(type));
        } else if (field == 2 && wire == 2) {
            Reader t = reader(r.bytes());
            while (!t.done()) {
                const uint64_t k = t.varint();
                const int f = int(k >> 3);
                if ((k & 7) != 0) {
                    t.skip(int(k & 7));
                    continue;
                }
                const auto val = static_cast<int64_t>(t.varint());
                if (f == 3) v.modelType = int(val);
                else if (f == 35) v.byteFallback = val != 0;
                else if (f == 40) v.unkId = int(val);
                else if (f == 41) v.bosId = int(val);
                else if (f == 42) v.eosId = int(val);
                else if (f == 43) v.padId = int(val);
            }
            if (!t.ok) {
                error = "malformed trainer_spec";
                return std::nullopt;
            }
        } else if (field == 3 && wire == 2) {
            Reader n = reader(r.bytes());
            while (!n.done()) {
                const uint64_t k = n.varint();
                const int f = int(k >> 3);
                if (f == 1 && (k & 7) == 2) v.normalizerName = std::string(n.bytes());
                else if (f == 2 && (k & 7) == 2) v.precompiledCharsmap = std::string(n.bytes());
                else if (f == 3 && (k & 7) == 0) v.addDummyPrefix = n.varint() != 0;
                else if (f == 4 && (k & 7) == 0) v.removeExtraWhitespaces = n.varint() != 0;
                else if (f == 5 && (k & 7) == 0) v.escapeWhitespaces = n.varint() != 0;
                else n.skip(int(k & 7));
            }
            if (!n.ok) {
                error = "malformed normalizer_spec";
                return std::nullopt;
            }
        } else {
            r.skip(wire);
        }
    }
    if (!r.ok) {
        error = "truncated or malformed (not a SentencePiece model)";
        return std::nullopt;
    }
    if (v.pieces.empty()) {
        error = "no vocabulary pieces (not a SentencePiece model)";
        return std::nullopt;
    }
    return v;
}

Processor::Processor(Vocabulary v) : v_(std::move(v))
{
    const int n = static_cast<int>(v_.pieces.size());
    if (v_.scores.size() != v_.pieces.size() || v_.types.size() != v_.pieces.size())
        throw std::runtime_error("vocabulary arrays differ in length");
    if (v_.modelType != 2)
        throw std::runtime_error("SentencePiece model type " + std::to_string(v_.modelType) +
                                 " is not supported (only BPE, as used by Llama and Mistral)");
    if (v_.unkId < 0 || v_.unkId >= n)
        throw std::runtime_error("unknown-token id " + std::to_string(v_.unkId) + " is outside the vocabulary");
    std::fill(std::begin(byteIds_), std::end(byteIds_), -1);
    for (int i = 0; i < n; ++i) {
        const PieceType t = v_.types[size_t(i)];
        const std::string& p = v_.pieces[size_t(i)];
        if (t == PieceType::Normal || t == PieceType::UserDefined || t == PieceType::Unused)
            normal_.emplace(p, i);
        else
            reserved_.emplace(p, i);
        if (t == PieceType::UserDefined)
            userDefined_.push_back(p);
        if (t == PieceType::Byte)
            if (const int b = bytePieceValue(p); b >= 0)
                byteIds_[b] = i;
    }
    if (!v_.precompiledCharsmap.empty()) {
        const std::string& m = v_.precompiledCharsmap;
        uint32_t trieSize = 0;
        if (m.size() < 4)
            throw std::runtime_error("precompiled character map is truncated");
        std::memcpy(&trieSize, m.data(), 4);
        if (trieSize % 4 != 0 || trieSize > m.size() - 4 || trieSize == 0)
            throw std::runtime_error("precompiled character map has a bad trie size");
        trie_ = reinterpret_cast<const uint32_t*>(m.data() + 4);
        trieUnits_ = trieSize / 4;
        normalizedBlob_ = std::string_view(m).substr(4 + trieSize);
    }
}

int32_t Processor::pieceToId(std::string_view piece) const
{
    const std::string key(piece);
    if (auto it = reserved_.find(key); it != reserved_.end())
        return it->second;
    if (auto it = normal_.find(key); it != normal_.end())
        return it->second;
    return v_.unkId;
}

std::pair<std::string_view, size_t> Processor::normalizePrefix(std::string_view in) const
{
    if (trie_) {
        // Longest common-prefix match in the double array.
        size_t best = 0;
        uint32_t bestValue = 0;
        size_t pos = 0;
        uint32_t unit = trie_[0];
        pos ^= offset(unit);
        for (size_t i = 0; i < in.size(); ++i) {
            const auto c = static_cast<uint8_t>(in[i]);
            pos ^= c;
            if (pos >= trieUnits_)
                break;
            unit = trie_[pos];
            if (label(unit) != c)
                break;
            pos ^= offset(unit);
            if (pos >= trieUnits_)
                break;
            if (hasLeaf(unit)) {
                best = i + 1;
                bestValue = value(trie_[pos]);
            }
        }
        if (best > 0 && bestValue < normalizedBlob_.size()) {
            const std::string_view rest = normalizedBlob_.substr(bestValue);
            return {rest.substr(0, rest.find('\0')), best};
        }
    }
    const size_t n = utf8Length(in);
    if (n == 0)
        return {kReplacement, 1};
    return {in.substr(0, n), n};
}

std::string Processor::normalize(std::string_view input) const
{
    std::string out;
    out.reserve(input.size() * 3 / 2 + 4);
    const bool removeWs = v_.removeExtraWhitespaces;
    if (removeWs) {
        while (!input.empty()) {
            const auto [s, consumed] = normalizePrefix(input);
            if (s != " ")
                break;
            input.remove_prefix(consumed);
        }
    }
    if (input.empty())
        return out;
    const std::string_view space = v_.escapeWhitespaces ? kSpace : std::string_view(" ");
    if (v_.addDummyPrefix)
        out += space;
    bool prevSpace = removeWs;
    while (!input.empty()) {
        auto [s, consumed] = normalizePrefix(input);
        while (prevSpace && !s.empty() && s.front() == ' ')
            s.remove_prefix(1);
        if (!s.empty()) {
            for (char c : s) {
                if (v_.escapeWhitespaces && c == ' ')
                    out += kSpace;
                else
                    out += c;
            }
            prevSpace = s.back() == ' ';
        }
        input.remove_prefix(consumed);
        if (!removeWs)
            prevSpace = false;
    }
    if (removeWs) {
        while (out.size() >= space.size() && std::string_view(out).substr(out.size() - space.size()) == space)
            out.resize(out.size() - space.size());
    }
    return out;
}

std::vector<int32_t> Processor::encode(std::string_view text) const
{
    const std::string norm = normalize(text);
    struct Symbol {
        int prev, next;
        std::string_view piece;
        bool freeze;
    };
    std::vector<Symbol> symbols;
    std::string_view rest = norm;
    while (!rest.empty()) {
        size_t len = 0;
        bool frozen = false;
        for (const std::string& u : userDefined_)
            if (u.size() > len && rest.substr(0, u.size()) == u) {
                len = u.size();
                frozen = true;
            }
        if (!frozen) {
            len = utf8Length(rest);
            if (len == 0)
                len = 1;
        }
        const int idx = static_cast<int>(symbols.size());
        symbols.push_back({idx - 1, -1, rest.substr(0, len), frozen});
        if (idx > 0)
            symbols[size_t(idx - 1)].next = idx;
        rest.remove_prefix(len);
    }

    struct Pair {
        int left, right;
        float score;
        size_t size;
    };
    auto worse = [](const Pair& a, const Pair& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Pair, std::vector<Pair>, decltype(worse)> agenda(worse);
    auto maybeAdd = [&](int l, int r) {
        if (l < 0 || r < 0 || symbols[size_t(l)].freeze || symbols[size_t(r)].freeze)
            return;
        const std::string_view a = symbols[size_t(l)].piece, b = symbols[size_t(r)].piece;
        const std::string_view joined(a.data(), a.size() + b.size()); // adjacent in `norm`
        auto it = normal_.find(std::string(joined));
        if (it == normal_.end())
            return;
        agenda.push({l, r, v_.scores[size_t(it->second)], joined.size()});
    };
    for (size_t i = 1; i < symbols.size(); ++i)
        maybeAdd(int(i) - 1, int(i));
    while (!agenda.empty()) {
        const Pair top = agenda.top();
        agenda.pop();
        Symbol& l = symbols[size_t(top.left)];
        Symbol& r = symbols[size_t(top.right)];
        if (l.piece.empty() || r.piece.empty() || l.piece.size() + r.piece.size() != top.size)
            continue; // stale
        l.piece = std::string_view(l.piece.data(), top.size);
        r.piece = {};
        l.next = r.next;
        if (r.next >= 0)
            symbols[size_t(r.next)].prev = top.left;
        maybeAdd(l.prev, top.left);
        maybeAdd(top.left, l.next);
    }

    std::vector<int32_t> ids;
    bool prevUnk = false;
    for (int i = symbols.empty() ? -1 : 0; i >= 0; i = symbols[size_t(i)].next) {
        const std::string_view p = symbols[size_t(i)].piece;
        const int32_t id = pieceToId(p);
        if (id == v_.unkId && v_.byteFallback) {
            for (char c : p) {
                const int32_t b = byteIds_[static_cast<uint8_t>(c)];
                ids.push_back(b >= 0 ? b : v_.unkId);
            }
            prevUnk = false;
            continue;
        }
        if (id == v_.unkId && prevUnk)
            continue; // runs of unknown pieces become one unknown token
        ids.push_back(id);
        prevUnk = id == v_.unkId;
    }
    return ids;
}

std::string Processor::decode(const std::vector<int32_t>& ids) const
{
    std::string out;
    const int n = static_cast<int>(v_.pieces.size());
    for (int32_t id : ids) {
        if (id < 0 || id >= n)
            continue;
        const PieceType t = v_.types[size_t(id)];
        if (t == PieceType::Control)
            continue;
        const std::string& p = v_.pieces[size_t(id)];
        if (const int b = t == PieceType::Byte ? bytePieceValue(p) : -1; b >= 0) {
            out += static_cast<char>(b);
            continue;
        }
        if (t == PieceType::Unknown) {
            out += " \xE2\x81\x87 "; // the library's default unknown surface
            continue;
        }
        out += p;
    }
    std::string text;
    text.reserve(out.size());
    for (size_t i = 0; i < out.size();) {
        if (v_.escapeWhitespaces && out.compare(i, kSpace.size(), kSpace) == 0) {
            text += ' ';
            i += kSpace.size();
        } else {
            text += out[i++];
        }
    }
    if (v_.addDummyPrefix && !text.empty() && text.front() == ' ')
        text.erase(0, 1);
    return text;
}

} // namespace bonsai::spm
