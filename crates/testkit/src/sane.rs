//! SANE's `test` scanner with a private configuration (the system's may not
//! enable the test backend).

use crate::wait::require;

/// A private SANE config with the `test` and `pnm` backends and A4 geometry.
pub fn sane_config() -> tempfile::TempDir {
    require("scanimage", "sane-utils");
    let d = tempfile::Builder::new().prefix("visio-sane-").tempdir().unwrap();
    std::fs::write(d.path().join("dll.conf"), "test\npnm\n").unwrap();
    std::fs::write(d.path().join("test.conf"), "geometry_max 300.0\n").unwrap();
    d
}

