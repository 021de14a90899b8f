// The one import of the `gpu` engine build that is not wasm-bindgen's: `chord_jspi.next_task`
// (chord-gpu's block_on.rs). The engine calls it whenever it waits for the GPU (a buffer map, an
// adapter or device request). As a `WebAssembly.Suspending` function returning a promise, the
// call suspends the whole wasm stack (JSPI: JavaScript Promise Integration) until the promise
// resolves, i.e. after one macrotask: in between the event loop runs, WebGPU's promises settle
// and wgpu's callbacks record the results, then the engine polls again. It must be given to
// the instance as is (no JS function around it), which is why bindings/js/jspi-glue.mjs points
// the glue's import of this module here instead of letting wasm-bindgen wrap it.

// A macrotask: setImmediate where it exists, else a MessageChannel round trip (no setTimeout
// 4 ms clamp), made on first use (an open port with a listener would keep Node alive).
let nextTask = () => {
  if (typeof setImmediate === 'function') {
    nextTask = () => new Promise((r) => setImmediate(r));
  } else if (typeof MessageChannel === 'function') {
    const ch = new MessageChannel();
    const queue = [];
    ch.port1.onmessage = () => queue.shift()();
    nextTask = () =>
      new Promise((r) => {
        queue.push(r);
        ch.port2.postMessage(0);
      });
  } else {
    nextTask = () => new Promise((r) => setTimeout(r, 0));
  }
  return nextTask();
};

/** Whether this engine has JSPI (Chromium >= 137): the gpu build needs it. */
export function jspiSupported() {
  return (
    typeof WebAssembly.Suspending === 'function' && typeof WebAssembly.promising === 'function'
  );
}

// Without JSPI the gpu build is never chosen (runtime.js); the import still has to exist for
// the module to link, and reaching it then is a clear error rather than a hang.
export const next_task = jspiSupported()
  ? new WebAssembly.Suspending(() => nextTask())
  : () => {
      throw new Error('wasm-chord: the gpu engine needs JSPI (WebAssembly.Suspending)');
    };
