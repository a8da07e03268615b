//! Claim rules (in progress).
