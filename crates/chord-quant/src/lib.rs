//! chord-quant
