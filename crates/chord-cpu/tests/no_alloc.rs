//! "No allocation in the token loop": once the scratch buffers have grown to a step's size, a
//! decode step (one sequence, or several batched as the server runs them) must not touch the
//! heap at all — not on the calling thread and not on the pool's workers. A counting global
//! allocator sees every thread of this test binary; the binary holds this one test so that no
//! other test's allocations are counted.

use chord_cpu::CpuBackend;
use chord_model::sampler::argmax as argmax_opt;
use chord_model::{KvType, Logits, Model, Scratch, SeqBatch};
use chord_testkit::model as model_path;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);
/// `CHORD_ALLOC_TRACE=1`: print a backtrace of each counted allocation (to find a regression).
static TRACE: AtomicBool = AtomicBool::new(false);

fn count(l: Layout) {
    if COUNTING.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        if TRACE.load(Ordering::Relaxed) {
            // Capturing allocates: stop counting while it runs.
            COUNTING.store(false, Ordering::SeqCst);
            let bt = std::backtrace::Backtrace::force_capture();
            eprintln!("allocation of {} bytes in the token loop:\n{bt}", l.size());
            COUNTING.store(true, Ordering::SeqCst);
        }
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting is a side effect.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count(l);
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        count(l);
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count(l);
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap allocations made while `f` runs, on any thread.
fn allocations_during(f: impl FnOnce()) -> usize {
    ALLOCS.store(0, Ordering::SeqCst);
    COUNTING.store(true, Ordering::SeqCst);
    f();
    COUNTING.store(false, Ordering::SeqCst);
    ALLOCS.load(Ordering::SeqCst)
}

fn open(name: &str) -> Model {
    let p = model_path(name);
    Model::open(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Greedy decode of one sequence: after a prompt and two warm-up steps (the scratch buffers
/// grow to a one-token step), `steps` more steps allocate nothing.
fn single_decode_allocations(
    model: &Model,
    be: &CpuBackend,
    kv: KvType,
    prompt: &[u32],
    steps: usize,
) -> usize {
    let mut cache = model.new_cache_with(128, kv);
    let mut s = Scratch::default();
    let logits = model
        .forward(be, &mut cache, prompt, Logits::Last, &mut s)
        .unwrap();
    let mut next = argmax(logits) as u32;
    for _ in 0..2 {
        let l = model
            .forward(be, &mut cache, &[next], Logits::Last, &mut s)
            .unwrap();
        next = argmax(l) as u32;
    }
    allocations_during(|| {
        for _ in 0..steps {
            let l = model
                .forward(be, &mut cache, &[next], Logits::Last, &mut s)
                .unwrap();
            next = argmax(l) as u32;
        }
    })
}

/// Three sequences decoding together in one pass per step (the server's batched step).
fn batched_decode_allocations(
    model: &Model,
    be: &CpuBackend,
    prompts: [&[u32]; 3],
    steps: usize,
) -> usize {
    let n_vocab = model.config.n_vocab;
    let mut caches: Vec<_> = (0..3).map(|_| model.new_cache(128)).collect();
    let mut s = Scratch::default();
    let mut next = [0u32; 3];
    for ((cache, p), nx) in caches.iter_mut().zip(prompts).zip(next.iter_mut()) {
        *nx = argmax(model.forward(be, cache, p, Logits::Last, &mut s).unwrap()) as u32;
    }
    let step = |caches: &mut [chord_model::KvCache], next: &mut [u32; 3], s: &mut Scratch| {
        let [c0, c1, c2] = caches else { unreachable!() };
        let (t0, t1, t2) = ([next[0]], [next[1]], [next[2]]);
        let mut seqs = [
            SeqBatch {
                cache: c0,
                tokens: &t0,
                logits: Logits::Last,
            },
            SeqBatch {
                cache: c1,
                tokens: &t1,
                logits: Logits::Last,
            },
            SeqBatch {
                cache: c2,
                tokens: &t2,
                logits: Logits::Last,
            },
        ];
        let rows = model.forward_batch(be, &mut seqs, s).unwrap();
        for (i, nx) in next.iter_mut().enumerate() {
            *nx = argmax(&rows[i * n_vocab..(i + 1) * n_vocab]) as u32;
        }
    };
    for _ in 0..2 {
        step(&mut caches, &mut next, &mut s);
    }
    allocations_during(|| {
        for _ in 0..steps {
            step(&mut caches, &mut next, &mut s);
        }
    })
}

/// The greedy token of a logits row.
fn argmax(logits: &[f32]) -> usize {
    argmax_opt(logits).expect("a logits row is never empty")
}

#[test]
fn decode_steps_do_not_allocate() {
    TRACE.store(
        std::env::var_os("CHORD_ALLOC_TRACE").is_some(),
        Ordering::SeqCst,
    );
    let be = CpuBackend::new(2);
    let gemma = open("gemma3-270m");
    let n = single_decode_allocations(
        &gemma,
        &be,
        KvType::F16,
        &[2, 818, 5279, 529, 7001, 563],
        16,
    );
    assert_eq!(n, 0, "Gemma: {n} heap allocations in 16 decode steps");
    let n = batched_decode_allocations(
        &gemma,
        &be,
        [
            &[2, 818, 5279],
            &[2, 2063, 139, 9400, 236769],
            &[2, 3, 4, 5, 6, 7, 8],
        ],
        8,
    );
    assert_eq!(
        n, 0,
        "Gemma: {n} heap allocations in 8 batched steps of 3 sequences"
    );
    drop(gemma);
    let qwen = open("qwen2.5-coder-0.5b");
    let prompt = [785, 6722, 315, 9625, 374];
    let n = single_decode_allocations(&qwen, &be, KvType::F16, &prompt, 16);
    assert_eq!(n, 0, "Qwen: {n} heap allocations in 16 decode steps");
    // The F32 cache runs llama.cpp's own attention arithmetic (attention_ggml.rs).
    let n = single_decode_allocations(&qwen, &be, KvType::F32, &prompt, 16);
    assert_eq!(
        n, 0,
        "Qwen, F32 cache: {n} heap allocations in 16 decode steps"
    );
}
