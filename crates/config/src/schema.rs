//! JSON Schemas of the configuration files, generated from the `Raw*`
//! types so they cannot drift from what the loader reads. Committed under
//! `kiosk-config/schema/`; editors use them for completion and checks.
//!
//! Regenerate after changing a `Raw*` type:
//! `VISIO_UPDATE_SCHEMA=1 cargo test -p visio-config schema`
//! (or `visio-admin schema kiosk-config/schema`).

use crate::{RawCatalogue, RawHubSettings, RawKiosk};

/// `(file name, schema text)` for each configuration file.
pub fn schemas() -> Vec<(&'static str, String)> {
    let pretty = |schema: schemars::Schema| serde_json::to_string_pretty(&schema).unwrap_or_default() + "\n";
    vec![
        ("services.schema.json", pretty(schemars::schema_for!(RawCatalogue))),
        ("kiosk.schema.json", pretty(schemars::schema_for!(RawKiosk))),
        ("hub.schema.json", pretty(schemars::schema_for!(RawHubSettings))),
    ]
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn committed_schemas_match_the_rust_types() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../kiosk-config/schema");
        let update = std::env::var_os("VISIO_UPDATE_SCHEMA").is_some();
        for (name, generated) in super::schemas() {
            let path = dir.join(name);
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &generated).unwrap();
                continue;
            }
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == generated,
                "kiosk-config/schema/{name} is out of date; run `VISIO_UPDATE_SCHEMA=1 cargo test -p visio-config schema`"
            );
        }
    }
}
