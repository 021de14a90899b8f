//! chord-cpu
