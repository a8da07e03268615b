//! How a simulator is set up: [`SimConfig`] and the configuration file
//! ([`SimConfigFile`]) laid over it.

use std::collections::BTreeMap;
use std::time::Duration;

use agora_domain::rules::{RuleBook, RuleSet};
use serde::Deserialize;
use serde_json::Value;

use super::autopilot::Autopilot;
use super::hint;
use crate::profile::AnswerProfile;

/// How a simulator is set up.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The api_keys of the accounts (one service partner each).
    pub tenants: Vec<String>,
    /// Keys of accounts that authenticate but are locked (403).
    pub locked: Vec<String>,
    /// Seed of every generated value (catalog, ids of keys, fault dice).
    pub seed: u64,
    /// Spare parts generated per OEM (products: a tenth).
    pub catalog_size: u64,
    /// How long a product search's temporary key lives.
    pub product_key_ttl: Duration,
    /// The OEMs' claim rules.
    pub rules: RuleBook,
    /// The answer profile of accounts (by api_key) that do not answer in
    /// the default way.
    pub profiles: BTreeMap<String, AnswerProfile>,
    /// The guards that absorb re-sends are off: a duplicate creation or
    /// order is applied and journaled as one
    /// ([`Simulator::set_apply_duplicates`](crate::Simulator::set_apply_duplicates)).
    pub apply_duplicates: bool,
    /// The OEM played by the simulator, for the accounts it covers.
    pub autopilot: Option<Autopilot>,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            tenants: vec!["demo".to_owned()],
            locked: Vec::new(),
            seed: 0,
            catalog_size: 1000,
            product_key_ttl: Duration::from_secs(600),
            rules: RuleBook::defaults(),
            profiles: BTreeMap::new(),
            apply_duplicates: false,
            autopilot: None,
        }
    }
}

impl SimConfig {
    /// Refuses a profile for a key no account has, or an invalid profile.
    /// Keys are never shown, only their length.
    pub fn check(&self) -> Result<(), String> {
        for (key, profile) in &self.profiles {
            if !self.tenants.contains(key) && !self.locked.contains(key) {
                return Err(format!(
                    "a profile is given for an account that does not exist (key {})",
                    hint(key)
                ));
            }
            profile
                .validate()
                .map_err(|e| format!("profile of the account {}: {e}", hint(key)))?;
        }
        if let Some(pilot) = &self.autopilot {
            pilot.check()?;
            if let Some(key) = pilot
                .accounts
                .iter()
                .find(|k| !self.tenants.contains(k) && !self.locked.contains(k))
            {
                return Err(format!(
                    "autopilot: an account that does not exist is named (key {})",
                    hint(key)
                ));
            }
        }
        Ok(())
    }
}

/// The settings of a configuration file (JSON); unknown keys (such as the
/// server's `listen`) are left to their readers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct SimConfigFile {
    /// Account keys.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Locked account keys.
    #[serde(default)]
    pub locked: Vec<String>,
    /// Seed.
    pub seed: Option<u64>,
    /// Spare parts per OEM.
    pub catalog_size: Option<u64>,
    /// Product key lifetime, in seconds.
    pub product_key_ttl_seconds: Option<u64>,
    /// Rule sets replacing the defaults of their OEMs.
    #[serde(default)]
    pub rules: Vec<RuleSet>,
    /// Answer profiles by account key: a preset's name (`reference-style`)
    /// or the options (`{"EmptyLists": "NotFound", ...}`).
    #[serde(default)]
    pub profiles: BTreeMap<String, Value>,
    /// The autopilot: `true` (its defaults), `false`, or its settings
    /// (`{"work_orders_per_hour": 12, "ship_after_seconds": 600, ...}`).
    pub autopilot: Option<Value>,
}

impl SimConfigFile {
    /// Reads a configuration file's text.
    pub fn from_json(text: &str) -> Result<Self, String> {
        agora_domain::decode_json(text.as_bytes()).map_err(|e| format!("configuration file: {e}"))
    }

    /// Lays the file's settings over `base`.
    pub fn apply(self, mut base: SimConfig) -> Result<SimConfig, String> {
        base.tenants.extend(self.tenants);
        base.locked.extend(self.locked);
        if let Some(seed) = self.seed {
            base.seed = seed;
        }
        if let Some(size) = self.catalog_size {
            base.catalog_size = size;
        }
        if let Some(ttl) = self.product_key_ttl_seconds {
            base.product_key_ttl = Duration::from_secs(ttl);
        }
        for set in self.rules {
            base.rules.replace(set).map_err(|e| e.to_string())?;
        }
        for (key, setting) in self.profiles {
            let profile = AnswerProfile::from_setting(setting)
                .map_err(|e| format!("configuration file: account {}: {e}", hint(&key)))?;
            base.profiles.insert(key, profile);
        }
        match self.autopilot {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) => base.autopilot = Some(Autopilot::default()),
            Some(settings) => {
                let pilot: Autopilot = serde_json::from_value(settings)
                    .map_err(|e| format!("configuration file: autopilot: {e}"))?;
                base.autopilot = Some(pilot);
            }
        }
        Ok(base)
    }
}
