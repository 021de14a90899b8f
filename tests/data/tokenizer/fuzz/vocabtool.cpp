// Test tool (not part of the build): runs llama.cpp's own llama_vocab (llama-vocab.cpp, unicode.cpp) on a GGUF
// file's metadata without the rest of libllama, via a minimal llama_model_loader.
#include "llama-model-loader.h"
#include "llama-vocab.h"
#include "llama-arch.h"
#include "gguf.h"
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

llama_model_loader::llama_model_loader(struct gguf_context * meta, llama_model_set_tensor_data_t, void *,
        const std::string &, std::vector<std::string> &, FILE *, llama_load_mode, bool, bool, bool,
        const llama_model_kv_override *, const llama_model_tensor_buft_override *)
    : tensor_buft_overrides(nullptr), metadata(meta) {}

template<typename T> static bool read_kv(gguf_context * ctx, const std::string & key, T & out);
template<> bool read_kv<bool>(gguf_context * ctx, const std::string & key, bool & out) {
    int i = gguf_find_key(ctx, key.c_str()); if (i < 0) return false;
    out = gguf_get_val_bool(ctx, i); return true;
}
template<> bool read_kv<uint32_t>(gguf_context * ctx, const std::string & key, uint32_t & out) {
    int i = gguf_find_key(ctx, key.c_str()); if (i < 0) return false;
    auto t = gguf_get_kv_type(ctx, i);
    if (t == GGUF_TYPE_UINT32) out = gguf_get_val_u32(ctx, i);
    else if (t == GGUF_TYPE_INT32) out = (uint32_t) gguf_get_val_i32(ctx, i);
    else return false;
    return true;
}
template<> bool read_kv<std::string>(gguf_context * ctx, const std::string & key, std::string & out) {
    int i = gguf_find_key(ctx, key.c_str()); if (i < 0) return false;
    out = gguf_get_val_str(ctx, i); return true;
}
template<> bool read_kv<float>(gguf_context * ctx, const std::string & key, float & out) {
    int i = gguf_find_key(ctx, key.c_str()); if (i < 0) return false;
    out = gguf_get_val_f32(ctx, i); return true;
}

template<typename T>
bool llama_model_loader::get_key(enum llm_kv kid, T & result, bool required) {
    bool ok = read_kv<T>(metadata, llm_kv(kid), result);
    if (required && !ok) throw std::runtime_error("missing key");
    return ok;
}
template bool llama_model_loader::get_key<bool>(enum llm_kv, bool &, bool);
template bool llama_model_loader::get_key<uint32_t>(enum llm_kv, uint32_t &, bool);
template bool llama_model_loader::get_key<std::string>(enum llm_kv, std::string &, bool);
template bool llama_model_loader::get_key<float>(enum llm_kv, float &, bool);

int main(int argc, char ** argv) {
    if (argc < 3) return 2;
    gguf_init_params p = { true, nullptr };
    gguf_context * ctx = gguf_init_from_file(argv[1], p);
    if (!ctx) return 1;
    std::vector<std::string> splits;
    llama_model_loader ml(ctx, nullptr, nullptr, argv[1], splits, nullptr, (llama_load_mode) 0, false, true, false, nullptr, nullptr);
    int ai = gguf_find_key(ctx, "general.architecture");
    ml.llm_kv = LLM_KV(llm_arch_from_string(gguf_get_val_str(ctx, ai)));
    llama_vocab vocab;
    vocab.load(ml, ml.llm_kv);
    if (getenv("EOG")) {
        for (uint32_t i = 0; i < vocab.n_tokens(); i++) if (vocab.is_eog(i)) printf("%u ", i);
        printf("| bos %d eos %d eot %d add_bos %d add_eos %d\n", vocab.token_bos(), vocab.token_eos(), vocab.token_eot(), vocab.get_add_bos(), vocab.get_add_eos());
        return 0;
    }
    std::ifstream f(argv[2], std::ios::binary);
    std::stringstream ss; ss << f.rdbuf();
    std::string all = ss.str();
    size_t start = 0;
    while (start < all.size()) {
        size_t end = all.find('\0', start);
        if (end == std::string::npos) end = all.size();
        std::string s = all.substr(start, end - start);
        for (int mode = 0; mode < 2; mode++) {
            auto ids = vocab.tokenize(s, mode == 0, mode == 0);
            for (size_t i = 0; i < ids.size(); i++) printf("%s%d", i ? " " : "", ids[i]);
            printf("\n");
            if (getenv("DETOK")) {
                for (int rs = 0; rs < 2; rs++) for (int us = 0; us < 2; us++) {
                    std::vector<char> buf(s.size() * 4 + 1024);
                    int n = vocab.detokenize(ids.data(), ids.size(), buf.data(), buf.size(), rs, us);
                    printf("D%d%d ", rs, us);
                    for (int i = 0; i < n; i++) printf("%02x", (unsigned char) buf[i]);
                    printf("\n");
                }
                printf("P ");
                for (auto id : ids) { char b[512]; int n = vocab.token_to_piece(id, b, sizeof b, 0, false); for (int i = 0; i < n; i++) printf("%02x", (unsigned char) b[i]); }
                printf("\n");
            }
        }
        start = end + 1;
    }
    return 0;
}
