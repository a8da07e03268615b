//! Lifecycle (in progress).
