//! Shared by the `format_*` tests: finding the models `scripts/setup`
//! installs, and saying so loudly when they are absent.

use std::path::PathBuf;

/// The installed file or directory `relative` to the models directory, or
/// `None` after a loud warning when it is absent. Under `CI` a missing model
/// fails the test instead: CI runs `scripts/setup` first, so absence is a bug.
pub fn installed(relative: &str) -> Option<PathBuf> {
    let path = trace_vm::format::models_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    let message = format!(
        "{} is not installed: run scripts/setup (it installs the pretrained models \
         into .refute/models, or $REFUTE_HOME/models)",
        path.display()
    );
    let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
    assert!(!ci, "{message}");
    eprintln!("\n*** SKIPPED, model missing: {message} ***\n");
    None
}
