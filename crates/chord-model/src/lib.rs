//! chord-model
