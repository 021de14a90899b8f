//! Adapter selection and device-loss errors.

mod common;

use chord_gguf::GgmlType;
use chord_gpu::{Gpu, GpuBackend, GpuError};
use chord_model::{Backend, MatRef};

#[test]
fn an_adapter_is_present() {
    let list = chord_gpu::adapters();
    assert!(
        !list.is_empty(),
        "no Vulkan adapter: run scripts/setup.d/gpu.sh"
    );
    let g = common::gpu();
    eprintln!(
        "adapter: {} ({:?})",
        g.gpu().adapter_name(),
        g.gpu().adapter_info().device_type
    );
    assert!(g.name().starts_with("gpu ("));
}

#[test]
fn no_matching_adapter_is_a_typed_error() {
    let e = Gpu::with_adapter(Some("no-such-adapter-xyz"))
        .err()
        .expect("no adapter has that name");
    assert!(matches!(e, GpuError::NoAdapter(_)), "{e}");
    assert!(e.to_string().contains("no-such-adapter-xyz"));
}

#[test]
fn a_lost_device_fails_the_next_operation_with_a_typed_error() {
    let b = GpuBackend::with_gpu(Gpu::new().expect("GPU adapter (run scripts/setup.d/gpu.sh)"));
    let data = vec![0u8; 34 * 2];
    let w = MatRef {
        name: "w",
        ty: GgmlType::Q8_0,
        rows: 1,
        cols: 64,
        data: &data,
    };
    let x = vec![1f32; 64];
    let mut y = vec![0f32; 1];
    b.matmul(w, &x, 1, &mut y).unwrap();
    b.gpu().destroy();
    let e = b.matmul_multi_gpu(&[w], &x, 1, &mut [&mut y]).unwrap_err();
    assert!(matches!(e, GpuError::DeviceLost(_)), "{e}");
}
