// The chat page: UI on this thread, the model in a Web Worker (worker.js), so the page stays
// responsive while a model loads or generates.
const $ = (id) => document.getElementById(id);
const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });

const history = []; // chat messages so far
let current = null; // {el, text} of the reply being streamed
let busy = false;

function setStatus(text, isError = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', isError);
}

function setBusy(b) {
  busy = b;
  $('send').disabled = b || !$('prompt').dataset.ready;
  $('prompt').disabled = !$('prompt').dataset.ready;
  $('stop').disabled = !b;
}

function addMessage(role, text) {
  const el = document.createElement('div');
  el.className = `msg ${role}`;
  el.textContent = text;
  $('transcript').append(el);
  el.scrollIntoView({ block: 'end' });
  return el;
}

function load(source, label) {
  setStatus(`Loading ${label}…`);
  $('progress').hidden = false;
  $('progress').removeAttribute('value');
  $('prompt').dataset.ready = '';
  setBusy(false);
  worker.postMessage({ type: 'load', source, device: $('device').value });
}

$('file').addEventListener('change', (e) => {
  const f = e.target.files[0];
  if (f) load(f, f.name);
});
$('load-url').addEventListener('click', () => {
  const url = $('url').value.trim();
  if (url) load(new URL(url, location.href).href, url);
});
$('stop').addEventListener('click', () => worker.postMessage({ type: 'stop' }));
$('reset').addEventListener('click', () => {
  history.length = 0;
  $('transcript').replaceChildren();
  worker.postMessage({ type: 'reset' });
});
$('prompt').addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey) {
    e.preventDefault();
    $('composer').requestSubmit();
  }
});

$('composer').addEventListener('submit', (e) => {
  e.preventDefault();
  const text = $('prompt').value;
  if (busy || !text) return;
  const mode = $('mode').value;
  const options = {
    maxTokens: Number($('max-tokens').value) || 128,
    temperature: Number($('temperature').value),
  };
  addMessage('user', text);
  current = { el: addMessage('assistant', ''), text: '' };
  $('speed').textContent = '';
  if (mode === 'chat') {
    history.push({ role: 'user', content: text });
    worker.postMessage({ type: 'generate', mode, messages: history, options });
  } else {
    worker.postMessage({ type: 'generate', mode, prompt: text, options });
  }
  $('prompt').value = '';
  setBusy(true);
});

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case 'progress': {
      const p = $('progress');
      if (data.total) {
        p.max = data.total;
        p.value = data.loaded;
      }
      const mb = (n) => (n / 1048576).toFixed(1);
      setStatus(`Loading… ${mb(data.loaded)}${data.total ? ` / ${mb(data.total)}` : ''} MB`);
      break;
    }
    case 'loaded':
      $('progress').hidden = true;
      $('engine').textContent =
        `${data.architecture} · wasm ${data.flavor} · ${data.device}` +
        (data.adapter ? ` (WebGPU: ${data.adapter})` : '');
      $('gpu-stats').textContent = '';
      setStatus(`Loaded ${data.name} (${(data.bytes / 1048576).toFixed(0)} MB) in ${data.seconds.toFixed(1)} s.`);
      $('prompt').dataset.ready = '1';
      setBusy(false);
      $('prompt').focus();
      break;
    case 'piece':
      if (current) {
        current.text += data.text;
        current.el.textContent = current.text;
        current.el.scrollIntoView({ block: 'end' });
      }
      if (data.tokensPerSecond) $('speed').textContent = `${data.tokens} tokens · ${data.tokensPerSecond.toFixed(1)} tok/s`;
      break;
    case 'done': {
      const r = data.result;
      if (current && $('mode').value === 'chat') history.push({ role: 'assistant', content: current.text });
      const tps = data.tokensPerSecond ? ` · ${data.tokensPerSecond.toFixed(1)} tok/s` : '';
      const n = r ? r.usage.completionTokens : 0;
      $('speed').textContent = `${n} tokens${tps} · ${data.stopped ? 'stopped' : r.stopReason}`;
      // On the GPU: the matrix products each WGSL kernel ran so far (proof the GPU did the work).
      const gpu = Object.entries(data.gpu || {});
      $('gpu-stats').textContent = gpu.length
        ? `GPU products: ${gpu.map(([k, n]) => `${k} ${n}`).join(', ')}`
        : '';
      document.body.dataset.state = data.stopped ? 'stopped' : 'done';
      current = null;
      setBusy(false);
      break;
    }
    case 'error':
      if (data.op === 'load') {
        $('progress').hidden = true;
        setStatus(`Error: ${data.message}`, true);
      } else {
        addMessage('error', data.message);
        current = null;
        setBusy(false);
      }
      document.body.dataset.state = 'error';
      break;
  }
};
