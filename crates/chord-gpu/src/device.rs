//! Adapter and device selection, and the checks that turn wgpu's asynchronous failures (device
//! loss, out-of-memory, validation) into [`GpuError`]s at the next call instead of panics.

use crate::block_on::block_on;
use crate::error::{GpuError, Result};
use std::sync::{Arc, Mutex};

/// Environment variable: choose the adapter whose name contains this text (case-insensitive),
/// e.g. `CHORD_GPU_ADAPTER=llvmpipe`.
pub const ADAPTER_ENV: &str = "CHORD_GPU_ADAPTER";

/// One adapter as the system reports it.
#[derive(Clone, Debug)]
pub struct AdapterSummary {
    pub name: String,
    pub device_type: String,
    pub driver: String,
}

/// A device and its queue, with the adapter's description and limits.
pub struct Gpu {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    limits: wgpu::Limits,
    /// The first error wgpu reported outside an error scope (or a device loss); taken by
    /// [`Gpu::check`] and returned by the operation that noticed it.
    pending: Arc<Mutex<Option<GpuError>>>,
    lost: Arc<Mutex<Option<String>>>,
    /// Command submissions so far (issue 8 asks for one per forward step; tests count them).
    submissions: std::sync::atomic::AtomicUsize,
}

/// Prefers real GPUs to software ones when several adapters exist.
fn rank(t: wgpu::DeviceType) -> u8 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

/// The one wgpu backend each target is built with: Vulkan natively, the page's WebGPU
/// (`navigator.gpu`) in wasm32.
#[cfg(not(target_arch = "wasm32"))]
const BACKENDS: wgpu::Backends = wgpu::Backends::VULKAN;
#[cfg(target_arch = "wasm32")]
const BACKENDS: wgpu::Backends = wgpu::Backends::BROWSER_WEBGPU;

fn instance() -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = BACKENDS;
    wgpu::Instance::new(desc)
}

/// Every adapter the enabled backends can see.
pub fn adapters() -> Vec<AdapterSummary> {
    block_on(instance().enumerate_adapters(BACKENDS))
        .iter()
        .map(|a| {
            let i = a.get_info();
            AdapterSummary {
                name: i.name,
                device_type: format!("{:?}", i.device_type),
                driver: format!("{} {}", i.driver, i.driver_info),
            }
        })
        .collect()
}

impl Gpu {
    /// Opens the best adapter (discrete, integrated, virtual, then software), or the one named by
    /// `CHORD_GPU_ADAPTER`, with the adapter's own limits (so weights can use its largest
    /// storage bindings).
    pub fn new() -> Result<Gpu> {
        let want = std::env::var(ADAPTER_ENV).ok().filter(|s| !s.is_empty());
        Gpu::with_adapter(want.as_deref())
    }

    /// As [`Gpu::new`] with an explicit adapter name filter.
    pub fn with_adapter(name_contains: Option<&str>) -> Result<Gpu> {
        let inst = instance();
        let mut found = block_on(inst.enumerate_adapters(BACKENDS));
        if let Some(want) = name_contains {
            let want = want.to_lowercase();
            found.retain(|a| a.get_info().name.to_lowercase().contains(&want));
        }
        found.sort_by_key(|a| rank(a.get_info().device_type));
        let Some(adapter) = found.into_iter().next() else {
            let why = name_contains
                .map(|w| format!(" whose name contains '{w}' ({ADAPTER_ENV})"))
                .unwrap_or_default();
            return Err(GpuError::NoAdapter(why));
        };
        let info = adapter.get_info();
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("chord-gpu"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            block_on(adapter.request_device(&desc)).map_err(|e| GpuError::RequestDevice {
                adapter: info.name.clone(),
                why: e.to_string(),
            })?;
        let pending = Arc::new(Mutex::new(None::<GpuError>));
        let sink = pending.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().unwrap_or_else(|p| p.into_inner());
            if slot.is_none() {
                *slot = Some(GpuError::from(e));
            }
        }));
        let lost = Arc::new(Mutex::new(None::<String>));
        let sink = lost.clone();
        device.set_device_lost_callback(move |reason, msg| {
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(format!("{reason:?}: {msg}"));
        });
        tracing::info!(target: "chord_gpu", adapter = %info.name, device_type = ?info.device_type, driver = %info.driver, "GPU device open");
        Ok(Gpu {
            device,
            queue,
            info,
            limits,
            pending,
            lost,
            submissions: Default::default(),
        })
    }

    /// Command submissions made so far through this device.
    pub fn submissions(&self) -> usize {
        self.submissions.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn adapter_name(&self) -> &str {
        &self.info.name
    }
    pub fn adapter_info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }
    pub fn limits(&self) -> &wgpu::Limits {
        &self.limits
    }
    /// The largest buffer one shader binding may see: weights are split into buffers of at most
    /// this many bytes (128 MiB on lavapipe).
    pub fn max_binding_bytes(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    /// Gives the device up: every later operation fails with [`GpuError::DeviceLost`]. (Also
    /// how the device-loss path is tested.)
    pub fn destroy(&self) {
        self.device.destroy();
        // wgpu reports the loss only at a later poll, if at all; record it now.
        *self.lost.lock().unwrap_or_else(|p| p.into_inner()) = Some("destroyed".into());
    }

    /// The first error reported since the last check, or the device loss.
    pub(crate) fn check(&self) -> Result<()> {
        if let Some(why) = self.lost.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Err(GpuError::DeviceLost(why));
        }
        match self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Waits until the queue has run everything submitted so far.
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn wait(&self, idx: wgpu::SubmissionIndex) -> Result<()> {
        let polled = self
            .device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(idx),
                timeout: None,
            })
            .map_err(|e| match e {
                wgpu::PollError::Timeout => GpuError::DeviceLost(e.to_string()),
                // A submission that never happened: with no validation error recorded (checked
                // first, below), the device refused work, i.e. it is gone.
                wgpu::PollError::WrongSubmissionIndex(..) => {
                    GpuError::DeviceLost(format!("the queue refused a submission ({e})"))
                }
            });
        // A lost device also makes the wait fail; report the loss, the cause.
        self.check()?;
        polled.map(|_| ())
    }

    /// Waits for the map callback of the submission `idx` to have stored its result in `done`.
    #[cfg(not(target_arch = "wasm32"))]
    fn wait_for_map<T>(&self, idx: wgpu::SubmissionIndex, _done: &Mutex<Option<T>>) -> Result<()> {
        // Native: the poll runs the callback before it returns.
        self.wait(idx)
    }

    /// In the browser nothing is polled: `mapAsync` settles on the JS event loop, which
    /// `block_on` lets run (JSPI) until the callback has stored its result. A lost device
    /// rejects the map, so this ends.
    #[cfg(target_arch = "wasm32")]
    fn wait_for_map<T>(&self, _idx: wgpu::SubmissionIndex, done: &Mutex<Option<T>>) -> Result<()> {
        block_on(std::future::poll_fn(|_| {
            if done.lock().unwrap_or_else(|p| p.into_inner()).is_some() {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }));
        self.check()
    }

    /// Submits `enc` followed by copies of each `(src, bytes)` (`COPY_SRC` buffers) one after
    /// another into `staging` (`MAP_READ | COPY_DST`), waits, and reads `dst.len()` bytes back.
    pub(crate) fn submit_and_read(
        &self,
        mut enc: wgpu::CommandEncoder,
        copies: &[(&wgpu::Buffer, u64)],
        staging: &wgpu::Buffer,
        dst: &mut [u8],
    ) -> Result<()> {
        let mut off = 0;
        for &(src, len) in copies {
            enc.copy_buffer_to_buffer(src, 0, staging, off, len);
            off += len;
        }
        let len = dst.len() as u64;
        let idx = self.queue.submit([enc.finish()]);
        self.submissions
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let slice = staging.slice(..len);
        let done = Arc::new(Mutex::new(None));
        let sink = done.clone();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            *sink.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        });
        self.wait_for_map(idx, &done)?;
        match done.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(GpuError::Readback(e.to_string())),
            None => return Err(GpuError::Readback("the map never completed".into())),
        }
        {
            let view = slice
                .get_mapped_range()
                .map_err(|e| GpuError::Readback(e.to_string()))?;
            dst.copy_from_slice(&view[..dst.len()]);
        }
        staging.unmap();
        Ok(())
    }
}
