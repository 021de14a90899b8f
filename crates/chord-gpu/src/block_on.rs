//! A minimal executor for wgpu's few futures (adapter and device requests, error scopes, buffer
//! maps), so that the synchronous `Backend` trait can wait for the device. This avoids a
//! dependency on an async runtime.
//!
//! - Natively (wgpu-core) they are ready at once or after a `Device::poll`, so parking the
//!   thread until woken is all that is needed.
//! - In the browser (WebGPU) a promise such as `mapAsync`'s resolves only when control returns
//!   to the JS event loop, which a synchronous wasm call never does. There the wait calls the
//!   import `chord_jspi.next_task`, which the npm package's `gpu` build provides as a
//!   `WebAssembly.Suspending` function returning a promise of the next macrotask: under JSPI
//!   (JavaScript Promise Integration) the whole wasm stack is suspended until that promise
//!   resolves, the event loop runs (the GPU's promises settle, wgpu's callbacks run), and the
//!   loop polls the future again. The export that led here must have been entered through
//!   `WebAssembly.promising` (bindings/js/jspi-glue.mjs arranges that).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Wake, Waker};
    use std::thread::Thread;

    struct Unpark(Thread);

    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    let mut f = pin!(f);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[cfg(target_arch = "wasm32")]
mod jspi {
    // A raw import (not wasm-bindgen's): wasm-bindgen would wrap it in a JS function, and a JS
    // frame between the wasm caller and the suspending function makes JSPI throw. The module
    // name is a contract with bindings/js/jspi-glue.mjs, which points it at src/jspi.js.
    #[link(wasm_import_module = "chord_jspi")]
    extern "C" {
        #[link_name = "next_task"]
        fn jspi_yield();
    }

    /// Suspends this wasm stack until the JS event loop has run one macrotask.
    pub(crate) fn yield_to_event_loop() {
        // SAFETY: the import takes and returns nothing; all it does is suspend and resume.
        unsafe { jspi_yield() }
    }
}

/// Polls `f` until it is ready, letting the browser's event loop run in between (see above).
/// The futures wake nothing useful here (their promises settle while the stack is suspended),
/// so the waker is a no-op and every turn of the event loop re-polls.
#[cfg(target_arch = "wasm32")]
pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        jspi::yield_to_event_loop();
    }
}
