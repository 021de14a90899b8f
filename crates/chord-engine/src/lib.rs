//! chord-engine
