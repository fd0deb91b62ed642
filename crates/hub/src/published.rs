//! A stored configuration bundle as the hub core uses it: its catalogue
//! and STUN/TURN servers, read once when it is published or loaded.

use std::sync::Arc;

use visio_config::ConfigSet;

use crate::core::Published;
use crate::store::StoredConfig;

/// What the core needs of a stored configuration: it must parse, since
/// the hub verified it before storing it.
pub fn published_from(stored: &StoredConfig) -> Result<Published, String> {
    let value: serde_json::Value = serde_json::from_str(&stored.bundle).map_err(|e| e.to_string())?;
    let set = ConfigSet::from_payload(&value["payload"])
        .map_err(|d| d.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))?;
    Ok(Published {
        version: stored.meta.version,
        sha256: stored.meta.payload_sha256.clone(),
        size: stored.meta.size,
        catalogue: Arc::new(set.catalogue().clone()),
        ice_servers: set.hub().ice_servers.clone(),
    })
}
