//! What a use case did, with what the local rules warned of.

use agora_domain::lifecycle::RuleWarning;

/// The outcome of a use case whose local rules may warn rather than refuse:
/// where the reference leaves a case open (a 204 without order number, a
/// claim for an OEM or repair type table 6.4 does not list), the change is
/// sent and AgoraPlus judges it; the caller is told here, to show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked<T> {
    /// What the use case did.
    pub outcome: T,
    /// What the local rules warned of (empty when nothing).
    pub warnings: Vec<RuleWarning>,
}

impl<T> Checked<T> {
    /// The outcome, the warnings dropped.
    pub fn into_outcome(self) -> T {
        self.outcome
    }
}
