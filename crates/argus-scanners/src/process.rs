//! The one door through which Argus starts processes.
//!
//! `clippy.toml` refuses `Command::new` everywhere else; [`run`] is the only place allowed to call
//! it. Every process started here:
//! - runs without a shell: the program is executed directly and each argument reaches it as
//!   exactly one `argv` entry, however many spaces or metacharacters it holds;
//! - gets a cleaned environment: only `PATH`, `HOME`, `LANG` and `TMPDIR` from ours, plus what
//!   the caller sets explicitly (so credentials in our own environment never leak into tools);
//! - starts in its own process group, and the whole group is killed with `SIGKILL` on timeout,
//!   on cancellation, when [`run`]'s future is dropped, and after the main process exits (strays
//!   left behind by a tool have no business outliving its task);
//! - has its stdout and stderr read concurrently (a chatty child never blocks on a full pipe),
//!   kept up to a cap each and discarded beyond it (marked truncated), optionally streamed into
//!   files that the caller keeps as artifacts.
//!
//! Cancellation is prompt: the group is killed as soon as the token fires, and output readers are
//! abandoned after a short grace period even if some escaped descendant still holds a pipe open,
//! so [`run`] returns well within the one second the platform promises.

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Variables copied from our own environment into every child (when set); nothing else is.
pub const INHERITED_ENV: [&str; 4] = ["PATH", "HOME", "LANG", "TMPDIR"];

/// How much of the end of stderr is always kept in memory for error messages.
const STDERR_TAIL: usize = 4096;
/// How long to keep reading after the main process exited normally, for output still buffered
/// by descendants that escaped the process group.
const DRAIN_GRACE_EXITED: Duration = Duration::from_secs(2);
/// The same after a kill (timeout or cancel): short, to keep the one-second stop promise.
const DRAIN_GRACE_KILLED: Duration = Duration::from_millis(200);
/// How long to wait for a SIGKILLed main process to be reaped before giving up on its status.
const REAP_GRACE: Duration = Duration::from_millis(500);

pub use argus_core::door::{
    fmt_duration, ProcessError, ProcessOutput, ProcessSpec, DEFAULT_STDERR_CAP, DEFAULT_STDOUT_CAP,
};

/// The process door as [`argus_core::door::ProcessDoor`]: [`run`] and [`which`] behind the trait
/// that factories receive in their [`Doors`](argus_core::component::Doors).
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalProcesses;

#[async_trait::async_trait]
impl argus_core::door::ProcessDoor for LocalProcesses {
    async fn run(
        &self,
        spec: ProcessSpec,
        cancel: &CancellationToken,
    ) -> Result<ProcessOutput, ProcessError> {
        run(spec, cancel).await
    }

    fn which(&self, program: &Path) -> Option<PathBuf> {
        which(program)
    }
}

/// The process door as a shared handle.
pub fn door() -> argus_core::door::SharedProcessDoor {
    std::sync::Arc::new(LocalProcesses)
}

/// Resolves an executable: a name containing `/` is checked as a path, anything else is looked
/// up on our `PATH` (empty `PATH` entries, meaning the current folder, are ignored).
pub fn which(name: impl AsRef<Path>) -> Option<PathBuf> {
    let name = name.as_ref();
    if name.as_os_str().is_empty() {
        return None;
    }
    if name.components().count() > 1 || name.to_string_lossy().contains('/') {
        return is_executable(name).then(|| name.to_path_buf());
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Kills a whole process group with SIGKILL when asked and when dropped (so an abandoned
/// [`run`] future leaves nothing behind). Errors (typically "no such process") are ignored.
struct GroupGuard {
    pgid: Option<Pid>,
}

impl GroupGuard {
    /// Kills the group once. Later calls do nothing: once the group is empty its id may be
    /// reused, so it must not be signalled again.
    fn kill(&mut self) {
        if let Some(pgid) = self.pgid.take() {
            // ESRCH (group already empty) is the common, harmless case.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

impl Drop for GroupGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What one output reader kept.
#[derive(Default)]
struct Captured {
    kept: Vec<u8>,
    tail: Vec<u8>,
    total: u64,
    truncated: bool,
    error: Option<io::Error>,
}

/// Reads `r` to EOF (or until `stop` fires), keeping at most `cap` bytes in `file` or memory.
async fn pump<R: AsyncRead + Unpin>(
    mut r: R,
    cap: u64,
    mut file: Option<tokio::fs::File>,
    tail_len: usize,
    stop: CancellationToken,
) -> Captured {
    let mut c = Captured::default();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = tokio::select! {
            biased;
            r = r.read(&mut buf) => match r {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    c.error.get_or_insert(e);
                    break;
                }
            },
            _ = stop.cancelled() => break,
        };
        let chunk = &buf[..n];
        let room = cap.saturating_sub(c.total);
        let keep = usize::try_from(room).unwrap_or(usize::MAX).min(n);
        if keep < n {
            c.truncated = true;
        }
        c.total += n as u64;
        if keep > 0 {
            match file.as_mut() {
                Some(f) => {
                    if let Err(e) = f.write_all(&chunk[..keep]).await {
                        // Keep draining the pipe so the child is not blocked; report later.
                        c.error.get_or_insert(e);
                        file = None;
                    }
                }
                None => c.kept.extend_from_slice(&chunk[..keep]),
            }
        }
        if tail_len > 0 {
            c.tail.extend_from_slice(chunk);
            if c.tail.len() > tail_len {
                let excess = c.tail.len() - tail_len;
                c.tail.drain(..excess);
            }
        }
    }
    if let Some(f) = file.as_mut() {
        if let Err(e) = f.flush().await {
            c.error.get_or_insert(e);
        }
    }
    c
}

async fn open_output(path: &Option<PathBuf>) -> Result<Option<tokio::fs::File>, ProcessError> {
    let Some(path) = path else { return Ok(None) };
    let err = |source| ProcessError::OutputFile {
        path: path.clone(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        tokio::fs::create_dir_all(parent).await.map_err(err)?;
    }
    tokio::fs::File::create(path).await.map(Some).map_err(err)
}

/// Builds the command. The only `Command::new` in the code base (see `clippy.toml`).
#[allow(clippy::disallowed_methods)]
fn command(program: &Path) -> tokio::process::Command {
    tokio::process::Command::new(program)
}

enum Outcome {
    Exited(io::Result<ExitStatus>),
    TimedOut,
    Cancelled,
}

/// Runs a process to completion under the rules in the module docs.
///
/// A non-zero exit is not an error here: the caller reads [`ProcessOutput::status`]. Timeout and
/// cancellation kill the whole process group and return [`ProcessError::TimedOut`] /
/// [`ProcessError::Cancelled`]; output already streamed into files stays there.
pub async fn run(
    spec: ProcessSpec,
    cancel: &CancellationToken,
) -> Result<ProcessOutput, ProcessError> {
    if cancel.is_cancelled() {
        return Err(ProcessError::Cancelled);
    }
    let program = which(&spec.program)
        .ok_or_else(|| ProcessError::NotFound(spec.program.to_string_lossy().into_owned()))?;
    let stdout_file = open_output(&spec.stdout_file).await?;
    let stderr_file = open_output(&spec.stderr_file).await?;

    let mut cmd = command(&program);
    cmd.args(&spec.args)
        .env_clear()
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Own process group (pgid = child pid), so one killpg reaches every descendant.
        .process_group(0)
        .kill_on_drop(true);
    for key in INHERITED_ENV {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd.envs(&spec.env);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }

    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|source| ProcessError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    let pid = child.id().unwrap_or(0);
    let mut group = GroupGuard {
        pgid: i32::try_from(pid)
            .ok()
            .filter(|p| *p > 0)
            .map(Pid::from_raw),
    };

    let stop = CancellationToken::new();
    let out_task = spawn_pump(child.stdout.take(), spec.stdout_cap, stdout_file, 0, &stop);
    let err_task = spawn_pump(
        child.stderr.take(),
        spec.stderr_cap,
        stderr_file,
        STDERR_TAIL,
        &stop,
    );
    if let (Some(mut stdin), Some(data)) = (child.stdin.take(), spec.stdin.clone()) {
        tokio::spawn(async move {
            // A child that does not read its stdin (or exits early) yields EPIPE: not our problem.
            let _ = stdin.write_all(&data).await;
            let _ = stdin.shutdown().await;
        });
    }

    let outcome = tokio::select! {
        status = child.wait() => Outcome::Exited(status),
        _ = tokio::time::sleep(spec.timeout) => Outcome::TimedOut,
        _ = cancel.cancelled() => Outcome::Cancelled,
    };
    // Whatever happened, nothing of the group may outlive the run.
    group.kill();
    let (exited, grace) = match outcome {
        Outcome::Exited(s) => (Ok(s), DRAIN_GRACE_EXITED),
        Outcome::TimedOut => (
            Err(ProcessError::TimedOut {
                after: spec.timeout,
            }),
            DRAIN_GRACE_KILLED,
        ),
        Outcome::Cancelled => (Err(ProcessError::Cancelled), DRAIN_GRACE_KILLED),
    };
    if exited.is_err() {
        // Reap the SIGKILLed main process; `kill_on_drop` and tokio's orphan reaper cover the
        // (pathological) case of a process stuck in uninterruptible sleep.
        let _ = tokio::time::timeout(REAP_GRACE, child.wait()).await;
    }
    // The readers see EOF once every writer is dead; give up on them after the grace period in
    // case a descendant escaped the group and still holds a pipe.
    let (out, err) = {
        let both = async { (join(out_task).await, join(err_task).await) };
        tokio::pin!(both);
        match tokio::time::timeout(grace, &mut both).await {
            Ok(v) => v,
            Err(_) => {
                stop.cancel();
                both.await
            }
        }
    };

    let status = exited?.map_err(|source| ProcessError::Spawn {
        program: program.to_string_lossy().into_owned(),
        source,
    })?;
    for (name, c, path) in [
        ("stdout", &out, &spec.stdout_file),
        ("stderr", &err, &spec.stderr_file),
    ] {
        if let (Some(e), Some(path)) = (&c.error, path) {
            return Err(ProcessError::OutputFile {
                path: path.clone(),
                source: io::Error::new(e.kind(), format!("writing {name}: {e}")),
            });
        }
    }
    Ok(ProcessOutput {
        status,
        stdout: out.kept,
        stderr: err.kept,
        stderr_tail: err.tail,
        stdout_len: out.total,
        stderr_len: err.total,
        stdout_truncated: out.truncated,
        stderr_truncated: err.truncated,
        pid,
        elapsed: started.elapsed(),
    })
}

fn spawn_pump<R: AsyncRead + Unpin + Send + 'static>(
    r: Option<R>,
    cap: u64,
    file: Option<tokio::fs::File>,
    tail: usize,
    stop: &CancellationToken,
) -> Option<JoinHandle<Captured>> {
    let stop = stop.clone();
    r.map(|r| tokio::spawn(pump(r, cap, file, tail, stop)))
}

async fn join(h: Option<JoinHandle<Captured>>) -> Captured {
    match h {
        Some(h) => h.await.unwrap_or_default(),
        None => Captured::default(),
    }
}
