import numpy as np, gguf
r = gguf.GGUFReader('/root/.cache/wasm-chord/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf')
t = {x.name: x for x in r.tensors}['blk.0.attn_output.weight']
W = gguf.quants.dequantize(t.data, t.tensor_type).reshape(896, 896).astype(np.float64)
x = np.fromfile('dump/kqv_out-0.bin', np.float32).reshape(5, 896)
y_ref = np.fromfile('dump/node_31.bin', np.float32).reshape(5, 896)
def q8_0(v):
    out = np.empty_like(v)
    for b in range(0, v.size, 32):
        blk = v[b:b+32]; amax = np.abs(blk).max()
        d = np.float32(amax / np.float32(127)); idv = np.float32(127)/amax if amax else np.float32(0)
        q = np.round((blk*idv).astype(np.float32))  # numpy round = half-even
        out[b:b+32] = q * np.float32(np.float16(d))
    return out
for name, xx in [('exact', x.astype(np.float64)), ('q8_0', np.stack([q8_0(row) for row in x]).astype(np.float64))]:
    y = xx @ W.T
    print(name, np.abs(y - y_ref).max() / np.abs(y_ref).max())
