import numpy as np
T, H, KV, D = 5, 14, 2, 64
q = np.fromfile('dump/Qcur-0.bin', np.float32).reshape(T, H, D)
k = np.fromfile('dump/Kcur-0.bin', np.float32).reshape(T, KV, D)
v = np.fromfile('dump/Vcur-0.bin', np.float32).reshape(T, KV, D)
kq = np.fromfile('dump/kq-0.bin', np.float32)
print('kq size', kq.size, 'expected', 256*T*H)
kq = kq.reshape(H, T, 256)   # ne = {256, 5, 14}
sm = np.fromfile('dump/kq_soft_max-0.bin', np.float32).reshape(H, T, 256)
kqv = np.fromfile('dump/kqv_out-0.bin', np.float32).reshape(T, H, D)
# ours in f64
kq64 = np.zeros((H, T, T))
for h in range(H):
    g = h // (H // KV)
    kq64[h] = q[:, h, :].astype(np.float64) @ k[:, g, :].astype(np.float64).T
print('kq rel err', np.abs(kq64 - kq[:, :, :T]).max() / np.abs(kq[:, :, :T]).max())
print('kq beyond T (should be 0 or garbage):', np.abs(kq[:, :, T:]).max())
s = kq64 * 0.125
mask = np.triu(np.ones((T, T)), 1) * -1e30
s = s + mask
s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
print('softmax err', np.abs(s - sm[:, :, :T]).max(), 'beyond', np.abs(sm[:, :, T:]).max())
out = np.zeros((T, H, D))
for h in range(H):
    g = h // (H // KV)
    out[:, h, :] = s[h] @ v[:, g, :].astype(np.float64)
print('kqv err', np.abs(out - kqv).max() / np.abs(kqv).max())
print(kq[0,:,:T])
print(kq64[0])
