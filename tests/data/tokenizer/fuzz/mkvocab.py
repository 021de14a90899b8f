import sys
sys.path.insert(0,'/tmp/dl/llama_cpp_python-0.3.36/vendor/llama.cpp/gguf-py')
from gguf import GGUFReader, GGUFWriter, GGUFValueType
src, dst, pre = sys.argv[1], sys.argv[2], sys.argv[3]
r = GGUFReader(src)
arch = bytes(r.fields['general.architecture'].parts[r.fields['general.architecture'].data[0]]).decode()
w = GGUFWriter(dst, arch)
for k, f in r.fields.items():
    if not k.startswith('tokenizer.') or k == 'tokenizer.chat_template':
        continue
    t = f.types[0]
    if k == 'tokenizer.ggml.pre':
        w.add_string(k, pre); continue
    if t == GGUFValueType.ARRAY:
        et = f.types[1]
        if et == GGUFValueType.STRING:
            vals = [bytes(f.parts[i]).decode() for i in f.data]
        else:
            vals = [f.parts[i].tolist()[0] for i in f.data]
        w.add_array(k, vals)
    elif t == GGUFValueType.STRING:
        w.add_string(k, bytes(f.parts[f.data[0]]).decode())
    elif t == GGUFValueType.BOOL:
        w.add_bool(k, bool(f.parts[f.data[0]][0]))
    elif t == GGUFValueType.UINT32:
        w.add_uint32(k, int(f.parts[f.data[0]][0]))
    else:
        raise SystemExit(f"unhandled {k} {t}")
w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
