//! `CHORD_ISA` is read once, at the first kernel lookup. (Its own test binary: the choice is
//! process-wide.)

use chord_gguf::GgmlType;
use chord_quant::{selected_isa, Isa, VecDotKernel};

#[test]
fn chord_isa_scalar_forces_the_scalar_kernels() {
    std::env::set_var("CHORD_ISA", "scalar");
    assert_eq!(selected_isa(), Isa::Scalar);
    let k = VecDotKernel::new(GgmlType::Q4_K).unwrap();
    assert_eq!(k.isa, Isa::Scalar);
    assert_eq!(k.name, "vec_dot_q4_K_q8_K/scalar");
    // Read once: changing the variable later has no effect.
    std::env::set_var("CHORD_ISA", "avx2");
    assert_eq!(selected_isa(), Isa::Scalar);
    // An explicit flavour is still available when the CPU has it.
    assert_eq!(
        VecDotKernel::with_isa(GgmlType::Q4_K, Isa::Avx2).is_ok(),
        Isa::Avx2.is_available()
    );
}
