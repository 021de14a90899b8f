import numpy as np, sys, os
ref, ours, nl = sys.argv[1], sys.argv[2], int(sys.argv[3])
pairs = [('attn_norm','attn_norm'),('Qcur','Qcur'),('Kcur','Kcur'),('Vcur','Vcur'),('kqv_out','kqv_out'),('attn_out','node'),('ffn_inp','ffn_inp'),('ffn_norm','ffn_norm'),('ffn_gate','ffn_swiglu'),('ffn_out','ffn_out')]
for il in range(nl):
    row=[]
    for o,r in pairs:
        po=f'{ours}/{o}-{il}.bin'; pr=f'{ref}/{r}-{il}.bin'
        if not (os.path.exists(po) and os.path.exists(pr)): row.append(f'{o}:?'); continue
        a=np.fromfile(po,np.float32); b=np.fromfile(pr,np.float32)
        if a.size!=b.size: row.append(f'{o}:size{a.size}/{b.size}'); continue
        err=np.abs(a-b).max()/max(np.abs(b).max(),1e-9)
        row.append(f'{o}:{err:.1e}')
    print(il,' '.join(row))
