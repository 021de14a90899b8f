// Minimal definitions so llama.cpp's ggml-quants.c and ggml-cpu/quants.c (compiled unmodified
// from the vendored source by tools/ggml_ref_expected.py) link into a standalone shared library.
// Only the reference quantizers and the scalar vec-dot kernels are called; everything here is
// our own code.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// The f16 -> f32 table the CPU backend reads (GGML_CPU_FP16_TO_FP32). Filled by ref_init().
float ggml_table_f32_f16[1 << 16];

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else {
            // subnormal: man * 2^-24, exactly representable in f32
            float f = (float)man / 16777216.0f;
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000 | (man << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (man << 13);
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

void ref_init(void) {
    for (uint32_t i = 0; i < (1u << 16); ++i) {
        ggml_table_f32_f16[i] = half_to_float((uint16_t)i);
    }
}

void ggml_abort(const char * file, int line, const char * fmt, ...) {
    fprintf(stderr, "ggml_abort at %s:%d (%s)\n", file, line, fmt);
    abort();
}

// Referenced by code paths we never call.
size_t ggml_row_size(int type, int64_t ne) { (void)type; (void)ne; abort(); }
const char * ggml_type_name(int type) { (void)type; abort(); }
size_t ggml_type_size(int type) { (void)type; abort(); }
