//! Continuous batching. A [`Scheduler`] owns a fixed pool of slots (one KV cache each) and runs
//! on its own OS thread. Each step it runs ONE forward pass over every active sequence: the
//! next token of each generating sequence plus chunks of prompts being read, within a token
//! budget. New requests join at the next step; finished or cancelled ones leave at once and free
//! their slot. Events go back through a callback per request, so callers (an async server, a
//! test) bring their own channel; the engine knows nothing of async runtimes.

use crate::engine::Engine;
use crate::error::EngineError;
use crate::prefix_cache::place;
use crate::session::StopReason;
use crate::slots::Slots;
use crate::stop::{StopMatcher, StopState};
use chord_model::sampler::{Sampler, SamplerConfig};
use chord_model::tokenizer::Utf8Stream;
use chord_model::{Logits, Scratch, SeqBatch};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

/// Size of the pool and of each step.
#[derive(Clone, Debug)]
pub struct SchedulerConfig {
    /// Sequences served at once (one KV cache each).
    pub n_slots: usize,
    /// Context of each slot, in tokens.
    pub n_ctx: usize,
    /// Prompt tokens in one forward pass, and the size of a prompt chunk: a prompt is read in
    /// chunks of this many tokens (the last one shorter), exactly as a `Session` with
    /// `n_batch = max_batch_tokens` reads it, whatever else runs. The kernels follow llama.cpp's
    /// order for a chunk's length, so fixed chunk boundaries keep a request's output independent
    /// of the load. The decode tokens of running sequences (at most `n_slots`) come on top.
    /// Bounds scratch memory and how long a long prompt delays the other streams' next token.
    pub max_batch_tokens: usize,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            n_slots: 8,
            n_ctx: 4096,
            max_batch_tokens: 512,
        }
    }
}

/// One generation request: prompt token ids and how to continue them.
#[derive(Clone, Debug)]
pub struct SeqRequest {
    pub prompt: Vec<u32>,
    pub max_tokens: usize,
    pub sampler: SamplerConfig,
    /// Generation stops when the output contains any of these; the stop string is not output.
    pub stop: Vec<String>,
    /// Mask end-of-generation tokens (as llama.cpp's `--ignore-eos`).
    pub ignore_eos: bool,
    /// Prefix-cache partition (the tenant): cached tokens are only reused under the same key.
    pub cache_key: String,
}

/// What a request reports, in order: `Token`s, then exactly one `Done` or `Error`.
#[derive(Debug)]
pub enum SeqEvent {
    /// A generated token and the text it makes safe to show (UTF-8 completed, stop-string
    /// prefixes held back, so `text` may be empty). When generation ends with text still held
    /// back, one last `Token` carries it (its `id` repeats the last token's, its `index` is the
    /// number of tokens generated), as [`crate::TokenEvent`] does.
    Token {
        id: u32,
        index: usize,
        text: String,
    },
    Done(SeqSummary),
    Error(EngineError),
}

/// The end of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SeqSummary {
    pub prompt_tokens: usize,
    /// Prompt tokens found in the slot's cache and not recomputed.
    pub cached_tokens: usize,
    pub completion_tokens: usize,
    pub stop_reason: StopReason,
}

/// Receives a request's events on the scheduler thread; returning false cancels the request
/// (e.g. the receiver is gone). Must not block.
pub type EventSink = Box<dyn FnMut(SeqEvent) -> bool + Send>;

/// Live numbers for metrics.
#[derive(Debug, Default)]
pub struct SchedulerStats {
    /// Requests waiting for a free slot.
    pub queued: AtomicUsize,
    /// Slots running a request.
    pub active: AtomicUsize,
    /// Forward passes run.
    pub steps: AtomicU64,
    /// Tokens run through forward passes (prompt chunks and decode tokens).
    pub batch_tokens: AtomicU64,
}

/// A submitted request. Dropping it (or calling [`SeqHandle::cancel`]) cancels the request: the
/// scheduler frees its slot at its next step and reports `Done` with `StopReason::Cancelled`.
pub struct SeqHandle {
    cancel: Arc<AtomicBool>,
}

impl SeqHandle {
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Release);
    }
}

impl Drop for SeqHandle {
    fn drop(&mut self) {
        self.cancel();
    }
}

enum Command {
    Submit(Box<Pending>),
    Shutdown,
}

struct Pending {
    req: SeqRequest,
    sink: EventSink,
    cancel: Arc<AtomicBool>,
}

/// The batching scheduler; see the module docs. Dropping it cancels whatever is in flight and
/// joins its thread.
pub struct Scheduler {
    engine: Arc<Engine>,
    cfg: SchedulerConfig,
    tx: mpsc::Sender<Command>,
    stats: Arc<SchedulerStats>,
    thread: Option<JoinHandle<()>>,
}

impl Scheduler {
    /// Allocates the slots and starts the scheduler thread.
    pub fn start(engine: Arc<Engine>, cfg: SchedulerConfig) -> Result<Scheduler, EngineError> {
        if cfg.n_slots == 0 || cfg.n_ctx == 0 || cfg.max_batch_tokens == 0 {
            return Err(EngineError::BadSchedulerConfig(format!(
                "slots ({}), context ({}) and batch tokens ({}) must all be at least 1",
                cfg.n_slots, cfg.n_ctx, cfg.max_batch_tokens
            )));
        }
        let (tx, rx) = mpsc::channel();
        let stats = Arc::new(SchedulerStats::default());
        let worker = Worker {
            slots: Slots::new(&engine, cfg.n_slots, cfg.n_ctx),
            engine: engine.clone(),
            budget: cfg.max_batch_tokens,
            rx,
            stats: stats.clone(),
            queue: VecDeque::new(),
            running: Vec::new(),
            scratch: Scratch::default(),
            feed: Vec::new(),
            row: Vec::new(),
            step: 0,
        };
        let thread = std::thread::Builder::new()
            .name("chord-scheduler".into())
            .spawn(move || worker.run())
            .map_err(|e| EngineError::BadSchedulerConfig(format!("cannot start thread: {e}")))?;
        Ok(Scheduler {
            engine,
            cfg,
            tx,
            stats,
            thread: Some(thread),
        })
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
    pub fn config(&self) -> &SchedulerConfig {
        &self.cfg
    }
    pub fn stats(&self) -> &SchedulerStats {
        &self.stats
    }

    /// Queues a request. Checked here, before anything runs: an empty prompt, one longer than a
    /// slot's context, token ids outside the vocabulary and invalid sampler settings are errors.
    pub fn submit(&self, req: SeqRequest, sink: EventSink) -> Result<SeqHandle, EngineError> {
        if req.prompt.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        if req.prompt.len() > self.cfg.n_ctx {
            return Err(EngineError::PromptTooLong {
                prompt: req.prompt.len(),
                n_ctx: self.cfg.n_ctx,
            });
        }
        let n_vocab = self.engine.model.config.n_vocab;
        if let Some(&id) = req.prompt.iter().find(|&&t| t as usize >= n_vocab) {
            return Err(chord_model::ModelError::BadToken { id, n_vocab }.into());
        }
        req.sampler.validate()?;
        let cancel = Arc::new(AtomicBool::new(false));
        self.stats.queued.fetch_add(1, Ordering::Relaxed);
        let pending = Pending {
            req,
            sink,
            cancel: cancel.clone(),
        };
        if self.tx.send(Command::Submit(Box::new(pending))).is_err() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            return Err(EngineError::SchedulerStopped);
        }
        Ok(SeqHandle { cancel })
    }

    /// Asks the thread to stop: everything in flight gets `Done` with `Cancelled` (at the end of
    /// the current step), later submissions fail with `SchedulerStopped`. Does not wait.
    pub fn shutdown(&self) {
        let _ = self.tx.send(Command::Shutdown);
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.shutdown();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A request holding a slot.
struct Running {
    p: Pending,
    slot: usize,
    /// Next prompt index to feed (prompt reading is done when it reaches the prompt's length).
    fed: usize,
    cached: usize,
    sampler: Sampler,
    stops: StopMatcher,
    utf8: Utf8Stream,
    generated: Vec<u32>,
    /// Sampled token not yet fed to the cache.
    next: Option<u32>,
}

/// Whether a running sequence goes on after a step.
enum Outcome {
    Continue,
    Finished(StopReason),
    Failed(EngineError),
}

struct Worker {
    engine: Arc<Engine>,
    slots: Slots,
    budget: usize,
    rx: mpsc::Receiver<Command>,
    stats: Arc<SchedulerStats>,
    queue: VecDeque<Pending>,
    running: Vec<Running>,
    scratch: Scratch,
    /// The step's token feed (all sequences' tokens back to back, spans in `plan` order) and
    /// the row being sampled (the scratch holds the step's logits rows): reused every step, so
    /// the decode loop does not allocate them.
    feed: Vec<u32>,
    row: Vec<f32>,
    step: u64,
}

impl Worker {
    fn run(mut self) {
        loop {
            // Idle: block until there is work. Busy: take what arrived without waiting.
            if self.running.is_empty() && self.queue.is_empty() {
                match self.rx.recv() {
                    Ok(cmd) => {
                        if !self.command(cmd) {
                            break;
                        }
                    }
                    Err(_) => break,
                }
            }
            let mut stop = false;
            while let Ok(cmd) = self.rx.try_recv() {
                if !self.command(cmd) {
                    stop = true;
                    break;
                }
            }
            if stop {
                break;
            }
            self.drop_cancelled();
            self.admit();
            if !self.running.is_empty() {
                self.run_step();
            }
        }
        // Shutdown (or every Scheduler handle gone): end whatever is in flight.
        for i in (0..self.running.len()).rev() {
            self.finish(i, Outcome::Finished(StopReason::Cancelled));
        }
        while let Some(mut p) = self.queue.pop_front() {
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            (p.sink)(SeqEvent::Done(SeqSummary {
                prompt_tokens: p.req.prompt.len(),
                cached_tokens: 0,
                completion_tokens: 0,
                stop_reason: StopReason::Cancelled,
            }));
        }
    }

    /// Returns false on shutdown.
    fn command(&mut self, cmd: Command) -> bool {
        match cmd {
            Command::Submit(p) => {
                self.queue.push_back(*p);
                true
            }
            Command::Shutdown => false,
        }
    }

    fn drop_cancelled(&mut self) {
        let mut i = 0;
        while i < self.queue.len() {
            if self.queue[i].cancel.load(Ordering::Acquire) {
                if let Some(mut p) = self.queue.remove(i) {
                    self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                    (p.sink)(SeqEvent::Done(SeqSummary {
                        prompt_tokens: p.req.prompt.len(),
                        cached_tokens: 0,
                        completion_tokens: 0,
                        stop_reason: StopReason::Cancelled,
                    }));
                }
            } else {
                i += 1;
            }
        }
        for i in (0..self.running.len()).rev() {
            if self.running[i].p.cancel.load(Ordering::Acquire) {
                self.finish(i, Outcome::Finished(StopReason::Cancelled));
            }
        }
    }

    /// Moves queued requests into free slots. Fair across cache keys (tenants): the next one
    /// admitted is the oldest request of the key with the fewest running sequences, so one
    /// tenant's flood of requests cannot keep another's waiting behind it.
    fn admit(&mut self) {
        while self.slots.n_free() > 0 && !self.queue.is_empty() {
            let running = |key: &str| {
                self.running
                    .iter()
                    .filter(|r| r.p.req.cache_key == key)
                    .count()
            };
            let pick = (0..self.queue.len())
                .min_by_key(|&i| (running(&self.queue[i].req.cache_key), i))
                .unwrap_or(0);
            let Some(p) = self.queue.remove(pick) else {
                break;
            };
            self.stats.queued.fetch_sub(1, Ordering::Relaxed);
            let Some(at) = place(&mut self.slots, &p.req.cache_key, &p.req.prompt) else {
                // Cannot happen (a slot is free); keep the request rather than lose it.
                self.queue.push_front(p);
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                break;
            };
            self.slots.slots[at.slot].busy = true;
            self.stats.active.fetch_add(1, Ordering::Relaxed);
            let n_vocab = self.engine.model.config.n_vocab;
            self.running.push(Running {
                sampler: Sampler::new(p.req.sampler, n_vocab),
                stops: StopMatcher::new(&p.req.stop),
                utf8: Utf8Stream::new(),
                slot: at.slot,
                fed: at.reuse,
                cached: at.reuse,
                generated: Vec::new(),
                next: None,
                p,
            });
        }
    }

    /// One forward pass over all running sequences, then sampling for those that have logits.
    fn run_step(&mut self) {
        self.step += 1;
        // What each sequence feeds this step: its sampled token, or the next prompt chunk.
        // Chunks are whole (`budget` tokens from where the prompt's reading started, the last
        // one shorter) and taken in arrival order while they fit the step's prompt budget; the
        // first one always fits, so every step with a prompt pending reads one.
        let mut left = self.budget;
        let mut plan: Vec<(usize, std::ops::Range<usize>)> = Vec::new(); // (running idx, prompt range)
        for (i, r) in self.running.iter().enumerate() {
            if r.next.is_some() {
                plan.push((i, 0..0));
            }
        }
        for (i, r) in self.running.iter().enumerate() {
            if r.next.is_none() {
                let end = r.p.req.prompt.len().min(r.fed + self.budget);
                if end - r.fed > left {
                    break;
                }
                left -= end - r.fed;
                plan.push((i, r.fed..end));
            }
        }
        plan.sort_by_key(|(i, _)| *i);
        // Each planned sequence's tokens, back to back in `feed`; `spans` says where.
        self.feed.clear();
        let spans: Vec<std::ops::Range<usize>> = plan
            .iter()
            .map(|(i, range)| {
                let r = &self.running[*i];
                let start = self.feed.len();
                match r.next {
                    Some(t) => self.feed.push(t),
                    None => self.feed.extend_from_slice(&r.p.req.prompt[range.clone()]),
                }
                start..self.feed.len()
            })
            .collect();
        let feeds: Vec<&[u32]> = spans.iter().map(|sp| &self.feed[sp.clone()]).collect();
        let n_tokens = self.feed.len();

        // Each planned sequence borrows its own slot's cache (distinct slots, so disjoint).
        let mut caches: Vec<Option<&mut chord_model::KvCache>> = self
            .slots
            .slots
            .iter_mut()
            .map(|s| Some(&mut s.cache))
            .collect();
        let mut batch: Vec<SeqBatch<'_>> = Vec::with_capacity(plan.len());
        for ((i, _), toks) in plan.iter().zip(&feeds) {
            let slot = self.running[*i].slot;
            if let Some(cache) = caches[slot].take() {
                batch.push(SeqBatch {
                    cache,
                    tokens: toks,
                    logits: Logits::Last,
                });
            }
        }
        let eng = self.engine.clone();
        // The scratch is moved out for the step (a move of a few Vec headers) so that the
        // logits rows it returns can be sampled in place while `self` is updated: no copy of
        // the batch's rows (8 × 151936 floats for Qwen2.5) per step.
        let mut scratch = std::mem::take(&mut self.scratch);
        // ONE pass for the whole batch: weights are read once per step.
        let result = eng
            .model
            .forward_batch(eng.backend.as_ref(), &mut batch, &mut scratch);
        drop(batch);
        drop(caches);
        self.stats.steps.fetch_add(1, Ordering::Relaxed);
        self.stats
            .batch_tokens
            .fetch_add(n_tokens as u64, Ordering::Relaxed);
        let n_vocab = eng.model.config.n_vocab;
        // One logits row per sequence (Logits::Last); anything else is a backend bug, reported
        // to the requests rather than a panic on the scheduler thread.
        let result = result.and_then(|rows| {
            if rows.len() == plan.len() * n_vocab {
                Ok(rows)
            } else {
                Err(chord_model::ModelError::Backend(format!(
                    "forward_batch returned {} logits for {} sequences of vocabulary {n_vocab}",
                    rows.len(),
                    plan.len()
                )))
            }
        });
        let rows = match result {
            Ok(rows) => rows,
            Err(e) => {
                self.scratch = scratch;
                // Nothing was written; every sequence of the batch fails with the error's text.
                let msg = e.to_string();
                for &(i, _) in plan.iter().rev() {
                    let err = EngineError::Batch(msg.clone());
                    self.finish(i, Outcome::Failed(err));
                }
                return;
            }
        };
        let mut row = std::mem::take(&mut self.row);
        let mut outcomes = Vec::with_capacity(plan.len());
        for (k, ((i, _), toks)) in plan.iter().zip(&feeds).enumerate() {
            let r = &mut self.running[*i];
            let slot = &mut self.slots.slots[r.slot];
            slot.tokens.extend_from_slice(toks);
            if r.next.take().is_none() {
                r.fed += toks.len();
                if r.fed < r.p.req.prompt.len() {
                    continue; // prompt not read yet: no sampling
                }
            }
            row.clear();
            row.extend_from_slice(&rows[k * n_vocab..(k + 1) * n_vocab]);
            let n_ctx = slot.cache.n_ctx();
            let out = sample_next(&eng, r, &slot.tokens, n_ctx, &mut row);
            outcomes.push((*i, out));
        }
        self.row = row;
        self.scratch = scratch;
        // Highest index first so removals do not shift the ones still to do.
        for (i, out) in outcomes.into_iter().rev() {
            if !matches!(out, Outcome::Continue) {
                self.finish(i, out);
            }
        }
    }

    /// Ends running sequence `i`: flushes held-back text, reports, frees the slot.
    fn finish(&mut self, i: usize, out: Outcome) {
        let mut r = self.running.swap_remove(i);
        let slot = &mut self.slots.slots[r.slot];
        slot.busy = false;
        slot.last_used = self.step;
        self.stats.active.fetch_sub(1, Ordering::Relaxed);
        match out {
            Outcome::Failed(e) => {
                (r.p.sink)(SeqEvent::Error(e));
            }
            Outcome::Finished(reason) => {
                let mut held = Vec::new();
                r.stops.flush(&mut held);
                let mut text = r.utf8.push(&held);
                text.push_str(&r.utf8.finish());
                if !text.is_empty() {
                    (r.p.sink)(SeqEvent::Token {
                        id: r.generated.last().copied().unwrap_or(0),
                        index: r.generated.len(),
                        text,
                    });
                }
                (r.p.sink)(SeqEvent::Done(SeqSummary {
                    prompt_tokens: r.p.req.prompt.len(),
                    cached_tokens: r.cached,
                    completion_tokens: r.generated.len(),
                    stop_reason: reason,
                }));
            }
            Outcome::Continue => {}
        }
    }
}

/// Samples a sequence's next token from its logits row and reports it; the same steps, in the
/// same order, as `Session::generate_tokens`, so a request's output does not depend on whether
/// it ran alone or batched.
fn sample_next(
    eng: &Engine,
    r: &mut Running,
    history: &[u32],
    n_ctx: usize,
    row: &mut [f32],
) -> Outcome {
    let req = &r.p.req;
    let index = r.generated.len();
    if index >= req.max_tokens {
        return Outcome::Finished(StopReason::MaxTokens);
    }
    if req.ignore_eos {
        for &e in eng.tokenizer.eog_ids() {
            if let Some(l) = row.get_mut(e as usize) {
                *l = f32::NEG_INFINITY;
            }
        }
    }
    let id = match r.sampler.sample(row, history) {
        Ok(id) => id,
        Err(e) => return Outcome::Failed(e.with_step(index as u64).into()),
    };
    if eng.tokenizer.is_eog(id) {
        return Outcome::Finished(StopReason::EndOfGeneration);
    }
    r.generated.push(id);
    let piece = match eng.tokenizer.token_to_piece(id, false) {
        Ok(p) => p,
        Err(e) => return Outcome::Failed(e.into()),
    };
    let mut emitted = Vec::new();
    let state = r.stops.push(piece, &mut emitted);
    let text = r.utf8.push(&emitted);
    let go_on = (r.p.sink)(SeqEvent::Token { id, index, text });
    if let StopState::Stopped(i) = state {
        return Outcome::Finished(StopReason::StopString(i));
    }
    if !go_on {
        return Outcome::Finished(StopReason::Cancelled);
    }
    if index + 1 >= req.max_tokens {
        return Outcome::Finished(StopReason::MaxTokens);
    }
    if history.len() >= n_ctx {
        return Outcome::Finished(StopReason::ContextFull);
    }
    r.next = Some(id);
    Outcome::Continue
}
