//! Running `git` for the steps gix does not do for us (init, ref updates),
//! always through the platform's process door (`argus_scanners::process`).
//!
//! The rewrite itself is synchronous (it may be called from a blocking task or from a plain
//! thread), while the door is async: each command runs on a small current-thread runtime on a
//! scoped thread, so this works whether or not the caller is inside a tokio runtime.

use super::RewriteError;
use argus_scanners::process::{self, ProcessSpec};
use std::path::Path;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Long enough for ref updates of a very large repository; cancellation is checked between steps.
const GIT_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Run `git args...` in `dir`, feeding `stdin`; returns stdout, or the failure with git's message.
pub(crate) fn git(
    dir: &Path,
    args: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<Vec<u8>, RewriteError> {
    let mut spec = ProcessSpec::new("git").args(args).timeout(GIT_TIMEOUT);
    spec.cwd = Some(dir.to_owned());
    spec.stdin = stdin.map(Into::into);
    // Output of these commands is small (ids, refs); keep git's messages whole.
    spec.stdout_cap = 64 << 20;
    let what = format!("git {}", args.first().copied().unwrap_or(""));
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| RewriteError::Io {
                    context: "starting a runtime for git".into(),
                    source: e,
                })?;
            rt.block_on(process::run(spec, &CancellationToken::new()))
                .map_err(|e| RewriteError::Git(format!("{what}: {e}")))
        })
        .join()
        .map_err(|_| RewriteError::Git(format!("{what}: runner thread panicked")))?
    })?;
    if !result.success() {
        let msg = String::from_utf8_lossy(&result.stderr_tail);
        let msg = msg.trim();
        let msg = if msg.is_empty() {
            format!("exited with status {:?}", result.code())
        } else {
            msg.chars().take(500).collect()
        };
        return Err(RewriteError::Git(format!("{what}: {msg}")));
    }
    Ok(result.stdout.to_vec())
}
