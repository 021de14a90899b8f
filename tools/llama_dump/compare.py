import numpy as np, sys, os
ref, ours, nl = sys.argv[1], sys.argv[2], int(sys.argv[3])
names=['attn_norm','Qcur','Kcur','Vcur','kqv_out','attn_out','ffn_inp','ffn_norm','ffn_out','l_out']
refname={'attn_out':'attn_out'}
for il in range(nl):
    row=[]
    for o in names:
        po=f'{ours}/{o}-{il}.bin'; pr=f'{ref}/{refname.get(o,o)}-{il}.bin'
        if not (os.path.exists(po) and os.path.exists(pr)): row.append(f'{o}:?'); continue
        a=np.fromfile(po,np.float32); b=np.fromfile(pr,np.float32)
        if a.size!=b.size: row.append(f'{o}:sz{a.size}/{b.size}'); continue
        nd=(a.view(np.uint32)!=b.view(np.uint32)).sum()
        err=np.abs(a-b).max()/max(np.abs(b).max(),1e-9)
        row.append(f'{o}:{nd}/{err:.0e}' if nd else f'{o}:=')
    print(il,' '.join(row))
a=np.fromfile(f'{ours}/LOGITS.bin',np.float32); b=np.fromfile(f'{ref}/LOGITS.bin',np.float32)
print('logits', (a!=b).sum(), np.abs(a-b).max()/np.abs(b).max())
