//! The doors: the only ways a component (scanner, later connector, sink, action) reaches
//! outside the process, handed to its factory in [`crate::component::Doors`].
//!
//! This module holds what the doors speak, not how they work: the process door's request and
//! answer ([`ProcessSpec`], [`ProcessOutput`], [`ProcessError`]) and the traits
//! [`ProcessDoor`], [`HttpDoor`] and [`EnvDoor`]. The implementations live outside the core
//! (`argus_scanners::process` starts processes, `argus_scanners::http` builds the one HTTP
//! client, the CLI reads the environment), so the core stays free of I/O.
//!
//! Invariants the implementations keep (and `clippy.toml` enforces where it can):
//! - every process is started by the process door: no shell, a cleaned environment, a timeout,
//!   capped output, the whole process group killed on cancel (`Command::new` is refused
//!   elsewhere);
//! - there is one HTTP client per process, built once by the HTTP door
//!   (`reqwest::Client::new` and `ClientBuilder::build` are refused elsewhere);
//! - only the environment door reads environment variables for components, by name, at build
//!   time.

use std::any::Any;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio_util::sync::CancellationToken;

/// Default cap on captured stdout (64 MiB).
pub const DEFAULT_STDOUT_CAP: u64 = 64 * 1024 * 1024;
/// Default cap on captured stderr (1 MiB).
pub const DEFAULT_STDERR_CAP: u64 = 1024 * 1024;
/// What to run and how.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// A path (anything containing `/`) or a bare name resolved on `PATH`.
    pub program: PathBuf,
    /// Arguments, each passed as exactly one `argv` entry.
    pub args: Vec<OsString>,
    /// Extra environment on top of [`INHERITED_ENV`] (these win on conflict).
    pub env: BTreeMap<String, String>,
    /// Working directory; ours when `None`.
    pub cwd: Option<PathBuf>,
    /// Wall-clock limit; the process group is killed when it passes.
    pub timeout: Duration,
    /// Bytes of stdout kept (in memory, or in `stdout_file`); the rest is read and discarded.
    pub stdout_cap: u64,
    /// Bytes of stderr kept (in memory, or in `stderr_file`); the rest is read and discarded.
    pub stderr_cap: u64,
    /// Stream stdout into this file (created or truncated) instead of memory.
    pub stdout_file: Option<PathBuf>,
    /// Stream stderr into this file (created or truncated) instead of memory.
    pub stderr_file: Option<PathBuf>,
    /// Bytes written to the child's stdin (then closed); stdin is `/dev/null` when `None`.
    pub stdin: Option<Bytes>,
}

impl ProcessSpec {
    /// A spec with no arguments, a 60 s timeout and the default caps.
    pub fn new(program: impl Into<PathBuf>) -> Self {
        ProcessSpec {
            program: program.into(),
            args: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            timeout: Duration::from_secs(60),
            stdout_cap: DEFAULT_STDOUT_CAP,
            stderr_cap: DEFAULT_STDERR_CAP,
            stdout_file: None,
            stderr_file: None,
            stdin: None,
        }
    }

    /// Adds one argument.
    pub fn arg(mut self, a: impl Into<OsString>) -> Self {
        self.args.push(a.into());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets the timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// What a finished process left behind.
#[derive(Clone, Debug)]
pub struct ProcessOutput {
    /// How the main process ended.
    pub status: ExitStatus,
    /// Captured stdout (at most `stdout_cap` bytes); empty when streamed to `stdout_file`.
    pub stdout: Vec<u8>,
    /// Captured stderr (at most `stderr_cap` bytes); empty when streamed to `stderr_file`.
    pub stderr: Vec<u8>,
    /// The last few KiB of stderr as the child wrote it, always kept (for error messages).
    pub stderr_tail: Vec<u8>,
    /// Bytes the child wrote to stdout, including those discarded beyond the cap.
    pub stdout_len: u64,
    /// Bytes the child wrote to stderr, including those discarded beyond the cap.
    pub stderr_len: u64,
    /// Whether stdout went over its cap.
    pub stdout_truncated: bool,
    /// Whether stderr went over its cap.
    pub stderr_truncated: bool,
    /// Process id of the main process (also its process group id).
    pub pid: u32,
    /// Wall-clock run time.
    pub elapsed: Duration,
}

impl ProcessOutput {
    /// Whether the main process exited with status 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The exit code, when it exited rather than being killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The last non-empty line of stderr, trimmed (for error messages).
    pub fn last_stderr_line(&self) -> Option<String> {
        String::from_utf8_lossy(&self.stderr_tail)
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty())
            .map(str::to_owned)
    }
}

/// Why a process could not be run to completion.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program is not on `PATH` (or the given path is not an executable file).
    #[error("executable '{0}' not found on PATH")]
    NotFound(String),
    /// The OS refused to start it.
    #[error("cannot start '{program}': {source}")]
    Spawn { program: String, source: io::Error },
    /// Preparing output files failed.
    #[error("cannot open output file {path}: {source}")]
    OutputFile { path: PathBuf, source: io::Error },
    /// The timeout passed; the process group was killed.
    #[error("timed out after {}", fmt_duration(*.after))]
    TimedOut { after: Duration },
    /// The cancellation token fired; the process group was killed.
    #[error("cancelled")]
    Cancelled,
}

/// Formats a duration as `30s` or `250ms`.
pub fn fmt_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 && d.as_secs() > 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The process door: runs one process to completion under the rules in the module docs.
#[async_trait]
pub trait ProcessDoor: Send + Sync + fmt::Debug {
    /// Runs `spec`. A non-zero exit is not an error: the caller reads [`ProcessOutput::status`].
    /// Timeout and cancellation kill the whole process group and return
    /// [`ProcessError::TimedOut`] / [`ProcessError::Cancelled`].
    async fn run(
        &self,
        spec: ProcessSpec,
        cancel: &CancellationToken,
    ) -> Result<ProcessOutput, ProcessError>;

    /// Resolves an executable as [`Self::run`] would: a name with `/` is checked as a path,
    /// anything else is looked up on `PATH`. `None` when it is missing.
    fn which(&self, program: &Path) -> Option<PathBuf>;
}

/// The HTTP client door: the process's one HTTP client (connection pool, proxy, TLS roots,
/// user agent and timeouts decided in one place), built once and shared by every component.
///
/// The core does not name the client type (it knows no HTTP); a component asks for the type it
/// was written against with [`crate::component::Doors::http_client`], e.g. `reqwest::Client`,
/// and gets a clone of the shared client (clones share the pool).
pub trait HttpDoor: Send + Sync + fmt::Debug {
    /// The shared client, for the caller to downcast.
    fn client(&self) -> &(dyn Any + Send + Sync);
}

/// The environment door: components read environment variables by name through it, at build
/// time (a credential's `token_env`), so only the binary touches the real environment and tests
/// can hand in their own.
pub trait EnvDoor: Send + Sync + fmt::Debug {
    /// The variable's value, `None` when unset or not Unicode.
    fn var(&self, name: &str) -> Option<String>;
}

/// An [`EnvDoor`] over a fixed map (tests, and processes that give components no environment).
#[derive(Clone, Debug, Default)]
pub struct FixedEnv(pub BTreeMap<String, String>);

impl EnvDoor for FixedEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// An [`HttpDoor`] with no client: components that ask for one get an error naming the door.
/// For processes that build no HTTP components (and tests).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHttp;

impl HttpDoor for NoHttp {
    fn client(&self) -> &(dyn Any + Send + Sync) {
        &()
    }
}

/// Shared handles to the doors, cheap to clone.
pub type SharedProcessDoor = Arc<dyn ProcessDoor>;
