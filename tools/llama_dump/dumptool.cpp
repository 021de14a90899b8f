// Dumps every f32 tensor computed during one prompt decode to DIR/<name>.bin (last write wins).
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>
#include <sys/stat.h>
static std::string dir;
static bool cb(struct ggml_tensor * t, bool ask, void *) {
    if (ask) return true;
    if (t->type != GGML_TYPE_F32 || !ggml_is_contiguous(t)) return true;
    std::string name = t->name;
    for (auto & c : name) if (c == ' ' || c == '/' || c == '(' || c == ')') c = '_';
    std::vector<float> buf(ggml_nelements(t));
    ggml_backend_tensor_get(t, buf.data(), 0, ggml_nbytes(t));
    FILE * f = fopen((dir + "/" + name + ".bin").c_str(), "wb");
    fwrite(buf.data(), 4, buf.size(), f); fclose(f);
    return true;
}
int main(int argc, char ** argv) {
    dir = argv[3];
    llama_backend_init();
    auto mp = llama_model_default_params();
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    const llama_vocab * vocab = llama_model_get_vocab(model);
    std::string text = argv[2];
    int n = -llama_tokenize(vocab, text.data(), text.size(), nullptr, 0, true, true);
    std::vector<llama_token> ids(n);
    llama_tokenize(vocab, text.data(), text.size(), ids.data(), n, true, true);
    auto cp = llama_context_default_params();
    cp.n_ctx = 4096; cp.n_batch = 4096; cp.n_ubatch = 512; cp.n_threads = 2; cp.n_threads_batch = 2;
    cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED; cp.type_k = GGML_TYPE_F32; cp.type_v = GGML_TYPE_F32;
    cp.cb_eval = cb; cp.cb_eval_user_data = nullptr;
    llama_context * ctx = llama_init_from_model(model, cp);
    llama_decode(ctx, llama_batch_get_one(ids.data(), ids.size()));
    const float * lg = llama_get_logits_ith(ctx, -1);
    const int nv = llama_vocab_n_tokens(vocab);
    FILE * f = fopen((dir + "/LOGITS.bin").c_str(), "wb"); fwrite(lg, 4, nv, f); fclose(f);
    // Optional: N greedy single-token decode steps, each dumped into DIR/step<i>/.
    const int steps = argc > 4 ? atoi(argv[4]) : 0;
    const std::string base = dir;
    FILE * tf = fopen((base + "/tokens.txt").c_str(), "w");
    for (llama_token t : ids) fprintf(tf, "%d ", t);
    fprintf(tf, "\n");
    for (int s = 0; s < steps; s++) {
        const float * l = llama_get_logits_ith(ctx, -1);
        llama_token best = 0;
        for (int i = 1; i < nv; i++) if (l[i] > l[best]) best = i;
        fprintf(tf, "%d ", best);
        dir = base + "/step" + std::to_string(s);
        mkdir(dir.c_str(), 0755);
        llama_decode(ctx, llama_batch_get_one(&best, 1));
        FILE * lf = fopen((dir + "/LOGITS.bin").c_str(), "wb"); fwrite(llama_get_logits_ith(ctx, -1), 4, nv, lf); fclose(lf);
    }
    fprintf(tf, "\n"); fclose(tf);
    return 0;
}
