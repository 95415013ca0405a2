//! Headless Chromium for the page tests: Debian's /usr/bin/chromium driven by playwright-core
//! from tests/browser/node_modules (scripts/setup.sh installs both).
#![allow(clippy::disallowed_methods)]

use std::path::Path;

/// Whether the browser tests can run. Missing pieces fail the test with what to install,
/// unless AIOPS_SKIP_BROWSER=1 (a local run without them): then `false`, and the test returns.
pub fn ready() -> bool {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let have = Path::new("/usr/bin/chromium").exists()
        && root.join("tests/browser/node_modules/playwright-core").exists();
    if have {
        return true;
    }
    if std::env::var("AIOPS_SKIP_BROWSER").as_deref() == Ok("1") {
        return false;
    }
    panic!(
        "headless Chromium tests need /usr/bin/chromium and tests/browser/node_modules/playwright-core: run scripts/setup.sh (or set AIOPS_SKIP_BROWSER=1 locally)"
    );
}
