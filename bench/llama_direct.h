#pragma once
// llama.cpp's prefill and decode speed on a GGUF file, measured in this process: the prebuilt
// CPU libraries of node-llama-cpp 3.21.1 (tests/interop/node_modules, installed by
// .ci/install-deps) are opened with dlopen and driven through llama.h's C API:
// llama_model_load_from_file, llama_init_from_model (n_threads = n_threads_batch = T),
// llama_decode on a batch of the prompt, then on one token at a time (the greedy next token).
//
// The declarations below are llama.h's of that release (structs passed by value, so their
// layout must match; the defaults are checked against the values its
// llama_context_default_params documents before anything else is called).
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace bench::llama {

struct ModelParams {
    void* devices;
    const void* tensorBuftOverrides;
    int32_t nGpuLayers;
    int32_t splitMode, loadMode, lazyMode; // enums
    int32_t mainGpu;
    const float* tensorSplit;
    bool (*progressCallback)(float, void*);
    void* progressCallbackUserData;
    const void* kvOverrides;
    bool vocabOnly, checkTensors, useExtraBufts, noHost, noAlloc, loadMtp;
};

struct ContextParams {
    uint32_t nCtx, nBatch, nUbatch, nSeqMax, nRsSeq, nOutputsMax, nOutputsMaxPerSeq;
    int32_t nThreads, nThreadsBatch;
    int32_t ctxType, ropeScalingType, poolingType, attentionType, flashAttnType; // enums
    float ropeFreqBase, ropeFreqScale, yarnExtFactor, yarnAttnFactor, yarnBetaFast, yarnBetaSlow;
    uint32_t yarnOrigCtx;
    float defragThold;
    bool (*cbEval)(void*, bool, void*);
    void* cbEvalUserData;
    int32_t typeK, typeV; // enum ggml_type
    bool (*abortCallback)(void*);
    void* abortCallbackData;
    bool embeddings, offloadKqv, noPerf, opOffload, swaFull, kvUnified;
    void* samplers;
    size_t nSamplers;
    void* ctxOther;
};

struct Batch {
    int32_t nTokens;
    int32_t* token;
    float* embd;
    int32_t* pos;
    int32_t* nSeqId;
    int32_t** seqId;
    int8_t* logits;
};

// The library's entry points (null members: not loaded).
struct Api {
    void* lib = nullptr;
    void (*backendInit)() = nullptr;
    void (*loadAllFromPath)(const char*) = nullptr;
    void (*logSet)(void (*)(int, const char*, void*), void*) = nullptr;
    ModelParams (*modelDefaultParams)() = nullptr;
    ContextParams (*contextDefaultParams)() = nullptr;
    void* (*modelLoad)(const char*, ModelParams) = nullptr;
    void* (*initFromModel)(void*, ContextParams) = nullptr;
    Batch (*batchGetOne)(int32_t*, int32_t) = nullptr;
    int32_t (*decode)(void*, Batch) = nullptr;
    void (*synchronize)(void*) = nullptr;
    float* (*logitsIth)(void*, int32_t) = nullptr;
    void* (*getMemory)(const void*) = nullptr;
    void (*memoryClear)(void*, bool) = nullptr;
    void (*freeContext)(void*) = nullptr;
    void (*modelFree)(void*) = nullptr;
    std::string error;

    // Opens libllama*.so in dir (and the CPU backend variants beside it).
    explicit Api(const std::filesystem::path& dir)
    {
        std::filesystem::path lib, ggml;
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
            const std::string n = e.path().filename().string();
            if (n.rfind("libllama.", 0) == 0 && n.find(".so") != std::string::npos)
                lib = e.path();
            if (n.rfind("libggml.", 0) == 0 && n.find(".so") != std::string::npos)
                ggml = e.path();
        }
        if (lib.empty() || ggml.empty()) {
            error = "no libllama / libggml in " + dir.string() + " (run .ci/install-deps)";
            return;
        }
        this->lib = dlopen(lib.c_str(), RTLD_NOW | RTLD_LOCAL);
        void* g = dlopen(ggml.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (!this->lib || !g) {
            error = dlerror();
            return;
        }
        auto sym = [&](void* h, const char* name, auto& fn) {
            fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(dlsym(h, name));
            if (!fn && error.empty())
                error = std::string("missing ") + name;
        };
        sym(g, "ggml_backend_load_all_from_path", loadAllFromPath);
        sym(this->lib, "llama_backend_init", backendInit);
        sym(this->lib, "llama_log_set", logSet);
        sym(this->lib, "llama_model_default_params", modelDefaultParams);
        sym(this->lib, "llama_context_default_params", contextDefaultParams);
        sym(this->lib, "llama_model_load_from_file", modelLoad);
        sym(this->lib, "llama_init_from_model", initFromModel);
        sym(this->lib, "llama_batch_get_one", batchGetOne);
        sym(this->lib, "llama_decode", decode);
        sym(this->lib, "llama_synchronize", synchronize);
        sym(this->lib, "llama_get_logits_ith", logitsIth);
        sym(this->lib, "llama_get_memory", getMemory);
        sym(this->lib, "llama_memory_clear", memoryClear);
        sym(this->lib, "llama_free", freeContext);
        sym(this->lib, "llama_model_free", modelFree);
        if (!error.empty())
            return;
        const ContextParams c = contextDefaultParams();
        const ModelParams m = modelDefaultParams();
        if (c.nCtx != 512 || c.nBatch != 2048 || c.nUbatch != 512 || c.nSeqMax != 1 || c.yarnExtFactor != -1.0f ||
            c.typeK != 1 || c.typeV != 1 || !c.offloadKqv || !c.swaFull || c.kvUnified || c.ctxOther ||
            m.nGpuLayers != -1 || !m.useExtraBufts || m.loadMtp) {
            error = "llama.h layout differs from the declarations";
            return;
        }
        logSet([](int, const char*, void*) {}, nullptr);
        loadAllFromPath(dir.c_str());
        backendInit();
    }
    bool ok() const { return error.empty(); }
};

// One model and context on a GGUF file.
class Runner {
public:
    Runner(Api& api, const std::string& gguf, int threads, int64_t ctx) : api_(api)
    {
        ModelParams mp = api.modelDefaultParams();
        mp.nGpuLayers = 0;
        model_ = api.modelLoad(gguf.c_str(), mp);
        if (!model_)
            return;
        ContextParams cp = api.contextDefaultParams();
        cp.nCtx = uint32_t(ctx);
        cp.nBatch = cp.nUbatch = uint32_t(std::max<int64_t>(ctx, 32));
        cp.nThreads = cp.nThreadsBatch = threads;
        ctx_ = api.initFromModel(model_, cp);
    }
    ~Runner()
    {
        if (ctx_)
            api_.freeContext(ctx_);
        if (model_)
            api_.modelFree(model_);
    }
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;
    bool ok() const { return ctx_ != nullptr; }
    void clear() { api_.memoryClear(api_.getMemory(ctx_), true); }
    // Evaluates ids at the current position; returns the greedy next token (-1 on failure).
    int32_t feed(std::vector<int32_t> ids, int32_t vocab)
    {
        if (api_.decode(ctx_, api_.batchGetOne(ids.data(), int32_t(ids.size()))) != 0)
            return -1;
        api_.synchronize(ctx_);
        const float* l = api_.logitsIth(ctx_, -1);
        return l ? int32_t(std::max_element(l, l + vocab) - l) : -1;
    }

private:
    Api& api_;
    void* model_ = nullptr;
    void* ctx_ = nullptr;
};

} // namespace bench::llama
