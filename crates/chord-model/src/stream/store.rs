//! The resident units of a streamed model, within a byte budget, and the prefetch thread.

use super::plan::{Plan, Unit};
use super::SharedSource;
use crate::error::{ModelError, Result};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard};

/// What the store did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub budget: u64,
    /// Units in the plan (layers plus LM-head chunks) and their total bytes.
    pub units: u64,
    pub unit_bytes: u64,
    /// A unit the forward pass asked for was resident (or being prefetched: see `waits`).
    pub hits: u64,
    /// A unit had to be read when the forward pass asked for it.
    pub misses: u64,
    /// Hits on a unit whose prefetch had not finished yet (the pass waited for the rest).
    pub waits: u64,
    /// Units read ahead by the prefetch thread.
    pub prefetched: u64,
    pub evictions: u64,
    /// Every byte read from the source after the header: units, embedding rows, and the norm
    /// and bias vectors read at load.
    pub bytes_read: u64,
    /// Bytes of units resident now (never above the budget).
    pub resident_bytes: u64,
}

impl StreamStats {
    /// Hits over requests.
    pub fn hit_rate(&self) -> f64 {
        let n = self.hits + self.misses;
        if n == 0 {
            0.0
        } else {
            self.hits as f64 / n as f64
        }
    }
}

enum Slot {
    Absent,
    /// Being read; its bytes already count against the budget.
    Loading,
    Resident(Arc<Vec<u8>>),
}

struct State {
    slots: Vec<Slot>,
    used: u64,
    /// The unit the forward pass is computing with: a prefetch never evicts it.
    current: Option<usize>,
    stats: StreamStats,
}

struct Shared {
    src: SharedSource,
    plan: Plan,
    budget: u64,
    state: Mutex<State>,
    /// Signalled when a read finishes.
    ready: Condvar,
}

/// Units by index, read through the budget.
pub(crate) struct Store {
    shared: Arc<Shared>,
    prefetch: usize,
    tx: Option<mpsc::Sender<usize>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Bytes read outside units (embedding rows, vectors at load).
    other_bytes: Arc<AtomicU64>,
}

/// Whom a read makes room for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The forward pass needs it now: anything else may go.
    Demand,
    /// Read ahead: only units needed later than it may go, never the current one.
    #[cfg_attr(target_family = "wasm", allow(dead_code))] // no prefetch thread there
    Prefetch,
}

impl Store {
    pub fn new(
        src: SharedSource,
        plan: Plan,
        budget: u64,
        prefetch: usize,
        other_bytes: Arc<AtomicU64>,
    ) -> Store {
        let n = plan.units.len();
        let stats = StreamStats {
            budget,
            units: n as u64,
            unit_bytes: plan.units.iter().map(|u| u.bytes as u64).sum(),
            ..StreamStats::default()
        };
        let shared = Arc::new(Shared {
            src,
            plan,
            budget,
            state: Mutex::new(State {
                slots: (0..n).map(|_| Slot::Absent).collect(),
                used: 0,
                current: None,
                stats,
            }),
            ready: Condvar::new(),
        });
        let (tx, thread) = if prefetch > 0 && n > 1 {
            spawn_prefetcher(&shared)
        } else {
            (None, None)
        };
        Store {
            shared,
            prefetch,
            tx,
            thread,
            other_bytes,
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.shared.plan
    }

    pub fn stats(&self) -> StreamStats {
        let st = self.shared.lock();
        let mut s = st.stats;
        s.resident_bytes = st.used;
        s.bytes_read += self.other_bytes.load(Ordering::Relaxed);
        s
    }

    /// Unit `u`'s bytes, reading it (and evicting others) if it is not resident; then asks the
    /// prefetch thread for the next units.
    pub fn get(&self, u: usize) -> Result<Arc<Vec<u8>>> {
        let data = self.shared.get(u)?;
        if let Some(tx) = &self.tx {
            let n = self.shared.plan.units.len();
            for k in 1..=self.prefetch.min(n - 1) {
                // A closed channel only means no prefetching: the thread is gone.
                let _ = tx.send((u + k) % n);
            }
        }
        Ok(data)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        self.tx = None; // ends the thread's receive loop
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(not(target_family = "wasm"))]
fn spawn_prefetcher(
    shared: &Arc<Shared>,
) -> (
    Option<mpsc::Sender<usize>>,
    Option<std::thread::JoinHandle<()>>,
) {
    let (tx, rx) = mpsc::channel::<usize>();
    let sh = Arc::clone(shared);
    let spawned = std::thread::Builder::new()
        .name("chord-prefetch".into())
        .spawn(move || {
            while let Ok(u) = rx.recv() {
                sh.prefetch(u);
            }
        });
    match spawned {
        Ok(t) => (Some(tx), Some(t)),
        // Without a thread every unit is read on demand; nothing else changes.
        Err(_) => (None, None),
    }
}

#[cfg(target_family = "wasm")]
fn spawn_prefetcher(
    _: &Arc<Shared>,
) -> (
    Option<mpsc::Sender<usize>>,
    Option<std::thread::JoinHandle<()>>,
) {
    (None, None)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state inconsistent in a way that
        // matters more than refusing to go on: keep serving.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn unit(&self, u: usize) -> Result<&Unit> {
        self.plan.units.get(u).ok_or_else(|| {
            ModelError::Backend(format!(
                "no stream unit {u} (the plan has {})",
                self.plan.units.len()
            ))
        })
    }

    fn get(&self, u: usize) -> Result<Arc<Vec<u8>>> {
        let unit = self.unit(u)?;
        let mut st = self.lock();
        let mut waited = false;
        loop {
            match &st.slots[u] {
                Slot::Resident(data) => {
                    let data = Arc::clone(data);
                    st.stats.hits += 1;
                    if waited {
                        st.stats.waits += 1;
                    }
                    st.current = Some(u);
                    return Ok(data);
                }
                Slot::Loading => {
                    waited = true;
                    st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                Slot::Absent => {
                    st.current = Some(u);
                    if !self.make_room(&mut st, u, Why::Demand) {
                        if !st.slots.iter().any(|s| matches!(s, Slot::Loading)) {
                            // Unreachable with every unit within the budget (checked by the plan).
                            return Err(ModelError::StreamBudget {
                                unit: unit.name.clone(),
                                bytes: unit.bytes as u64,
                                budget: self.budget,
                            });
                        }
                        // Units being prefetched hold the rest of the budget: wait for one.
                        st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
                        continue;
                    }
                    st.slots[u] = Slot::Loading;
                    st.used += unit.bytes as u64;
                    st.stats.misses += 1;
                    drop(st);
                    let read = self.read(unit);
                    let mut st = self.lock();
                    let out = match read {
                        Ok(buf) => {
                            let data = Arc::new(buf);
                            st.slots[u] = Slot::Resident(Arc::clone(&data));
                            st.stats.bytes_read += unit.bytes as u64;
                            Ok(data)
                        }
                        Err(e) => {
                            st.slots[u] = Slot::Absent;
                            st.used -= unit.bytes as u64;
                            Err(e)
                        }
                    };
                    self.ready.notify_all();
                    return out;
                }
            }
        }
    }

    /// Reads unit `u` ahead if it is absent and fits without evicting anything needed sooner.
    /// Errors are dropped: the forward pass reads the unit itself and reports them.
    #[cfg_attr(target_family = "wasm", allow(dead_code))] // no prefetch thread there
    fn prefetch(&self, u: usize) {
        let Ok(unit) = self.unit(u) else { return };
        let mut st = self.lock();
        if !matches!(st.slots[u], Slot::Absent) || !self.make_room(&mut st, u, Why::Prefetch) {
            return;
        }
        st.slots[u] = Slot::Loading;
        st.used += unit.bytes as u64;
        drop(st);
        let read = self.read(unit);
        let mut st = self.lock();
        match read {
            Ok(buf) => {
                st.slots[u] = Slot::Resident(Arc::new(buf));
                st.stats.prefetched += 1;
                st.stats.bytes_read += unit.bytes as u64;
            }
            Err(_) => {
                st.slots[u] = Slot::Absent;
                st.used -= unit.bytes as u64;
            }
        }
        self.ready.notify_all();
    }

    /// Evicts resident units, the one needed last first, until `target` fits. Returns false if
    /// it cannot (without evicting what `why` protects).
    fn make_room(&self, st: &mut State, target: usize, why: Why) -> bool {
        let n = self.plan.units.len();
        let need = self.plan.units[target].bytes as u64;
        // Distance ahead in the cyclic order of a forward pass.
        let ahead = |from: usize, to: usize| (to + n - from) % n;
        let from = match why {
            Why::Demand => target,
            Why::Prefetch => st.current.unwrap_or(target),
        };
        while st.used + need > self.budget {
            let victim = (0..n)
                .filter(|&v| v != target && matches!(st.slots[v], Slot::Resident(_)))
                .filter(|&v| {
                    why == Why::Demand
                        || (Some(v) != st.current && ahead(from, v) > ahead(from, target))
                })
                .max_by_key(|&v| ahead(from, v));
            let Some(v) = victim else { return false };
            st.slots[v] = Slot::Absent;
            st.used -= self.plan.units[v].bytes as u64;
            st.stats.evictions += 1;
        }
        true
    }

    fn read(&self, unit: &Unit) -> Result<Vec<u8>> {
        let mut buf = vec![0u8; unit.bytes];
        for run in &unit.runs {
            let len = (run.file.end - run.file.start) as usize;
            self.src
                .read_at(run.file.start, &mut buf[run.at..run.at + len])
                .map_err(|source| ModelError::StreamRead {
                    what: unit.name.clone(),
                    source,
                })?;
        }
        Ok(buf)
    }
}
