import random, sys, json
rng = random.Random(int(sys.argv[1]))
N = int(sys.argv[2])
def rand_cp():
    r = rng.random()
    if r < 0.4: return rng.randint(0x20, 0x7e)
    if r < 0.5: return rng.choice([9, 10, 13, 11, 12, 0x85, 0xa0, 0x3000, 0x2028, 0x200b, 0x1680])
    if r < 0.7: return rng.randint(0x80, 0x2fff)
    if r < 0.85: return rng.randint(0x3000, 0xffff)
    return rng.randint(0x10000, 0x10ffff)
out = []
for i in range(N):
    n = rng.randint(0, 40)
    s = []
    for _ in range(n):
        cp = rand_cp()
        if 0xd800 <= cp <= 0xdfff or cp == 0: cp = 0x41
        s.append(chr(cp))
        if rng.random() < 0.1: s.append("'" + rng.choice("sStTmMdDrRvVlLeE"))
    out.append("".join(s))
json.dump(out, sys.stdout, ensure_ascii=False)
