//! `runner = "container"`: a tool run inside a container by the `podman` or `docker` CLI.
//!
//! The CLI is the process the process door starts (the door stays the only way a process
//! starts); this module decides its command line and cleans up after it.
//!
//! Invariants:
//! - the container is named `argus-<task id>` and started with `--rm`; the task's work folder is
//!   its only volume, at [`WORK_MOUNT`], which is also its working directory and what
//!   `{work_dir}` renders as;
//! - the network is `none` unless the tool file asks for `bridge` or `host`;
//! - killing the CLI does not stop a container (podman's conmon and docker's daemon keep it
//!   running), so whenever the CLI did not exit on its own (cancel, timeout, a door error, the run
//!   future dropped) the container is removed with `rm --force` through the door; a leftover of
//!   an earlier attempt of the same task is removed before the run;
//! - environment: the CLI gets the door's usual variables plus [`CLI_ENV`] (where the engine
//!   and its configuration are) and the tool's `env_passthrough` values, which reach the
//!   container as `--env=NAME` (the value never appears on a command line); the tool's `env`
//!   values are passed as `--env=NAME=VALUE`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use argus_core::door::{ProcessError, ProcessSpec, SharedProcessDoor};
use tokio_util::sync::CancellationToken;

use super::def::{NetworkMode, ToolDef};

/// Where the task's work folder is mounted inside the container.
pub const WORK_MOUNT: &str = "/work";

/// Variables of Argus's own environment handed to the container CLI (when set): where podman
/// finds its configuration and storage, where docker finds its daemon. Never passed into the
/// container itself, and a tool may not pass variables of these names through.
pub const CLI_ENV: [&str; 14] = [
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "CONTAINERS_REGISTRIES_CONF",
    "CONTAINER_HOST",
    "CONTAINER_CONNECTION",
    "REGISTRY_AUTH_FILE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "DOCKER_CONTEXT",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
];

/// How long removing a container may take before the task returns anyway (the removal goes on
/// in the background): a cancelled task must stop within a second.
const REMOVE_WAIT: Duration = Duration::from_millis(600);
/// Upper bound for one `rm --force` run.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Which CLI dialect to speak. Both accept the same `run` flags; they differ in how to remove a
/// running container at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Podman,
    /// Docker and docker-compatible CLIs (nerdctl…).
    Docker,
}

/// A resolved container CLI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContainerCli {
    pub program: PathBuf,
    pub flavor: Flavor,
}

impl ContainerCli {
    /// A CLI at `program`; a file name containing `podman` speaks podman, anything else docker.
    pub fn new(program: PathBuf) -> Self {
        let podman = program
            .file_name()
            .is_some_and(|n| n.to_string_lossy().contains("podman"));
        ContainerCli {
            program,
            flavor: if podman {
                Flavor::Podman
            } else {
                Flavor::Docker
            },
        }
    }

    /// Finds the CLI: `configured` (a name on PATH or a path) when given, else `podman`, then
    /// `docker` on PATH. `Err` says what was looked for.
    pub fn resolve(door: &SharedProcessDoor, configured: Option<&str>) -> Result<Self, String> {
        match configured {
            Some(c) => door
                .which(Path::new(c))
                .map(ContainerCli::new)
                .ok_or_else(|| format!("container CLI '{c}' ([tools] container_cli) not found")),
            None => ["podman", "docker"]
                .iter()
                .find_map(|c| door.which(Path::new(c)))
                .map(ContainerCli::new)
                .ok_or_else(|| {
                    "no container CLI found: neither podman nor docker is on PATH (or set [tools] container_cli)"
                        .to_owned()
                }),
        }
    }

    /// `rm` arguments that stop (SIGKILL, no grace period) and remove `name`; a missing
    /// container is not an error worth reporting (the exit status is ignored).
    pub fn rm_args(&self, name: &str) -> Vec<OsString> {
        let mut a: Vec<OsString> = vec!["rm".into(), "--force".into()];
        if self.flavor == Flavor::Podman {
            // podman's `rm --force` otherwise sends SIGTERM and waits the stop timeout (10 s);
            // a PID 1 without a handler ignores SIGTERM. docker's `rm --force` kills at once.
            a.push("--time=0".into());
        }
        a.push(name.into());
        a
    }
}

/// The container settings of a tool file, checked.
#[derive(Clone, Debug)]
pub(crate) struct ContainerConf {
    pub image: String,
    pub cpus: Option<f64>,
    pub memory: Option<String>,
    pub network: NetworkMode,
}

impl ContainerConf {
    /// Checks the container keys of `def` (which has `runner = "container"`).
    pub fn from_def(def: &ToolDef) -> Result<Self, String> {
        let image = def
            .image
            .clone()
            .filter(|i| !i.trim().is_empty())
            .ok_or("runner = \"container\" needs an image")?;
        let image_ok = image.len() <= 255
            && !image.starts_with('-')
            && image
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-/:@".contains(&b));
        if !image_ok {
            return Err(format!(
                "image '{image}' must be a reference like registry/name:tag or name@sha256:… (letters, digits, '.', '_', '-', '/', ':', '@')"
            ));
        }
        if let Some(c) = def.cpus {
            if !(c.is_finite() && c > 0.0 && c <= 1024.0) {
                return Err(format!("cpus must be between 0 and 1024, got {c}"));
            }
        }
        if let Some(m) = &def.memory {
            if !memory_ok(m) {
                return Err(format!(
                    "memory '{m}' must be a number with an optional unit b, k, m or g (e.g. \"256m\")"
                ));
            }
        }
        if def.local_paths_only {
            return Err(
                "local_paths_only does not apply to a container tool: it sees only its work folder"
                    .into(),
            );
        }
        for k in &def.env_passthrough {
            if CLI_ENV.contains(&k.as_str()) || crate::process::INHERITED_ENV.contains(&k.as_str())
            {
                return Err(format!(
                    "env_passthrough: '{k}' is part of the container CLI's own environment and cannot be passed into the container"
                ));
            }
        }
        Ok(ContainerConf {
            image,
            cpus: def.cpus,
            memory: def.memory.clone(),
            network: def.network.unwrap_or_default(),
        })
    }

    /// The `run` arguments: options, the image, then the tool's command (`executable`, when
    /// set, replaces the image's entrypoint) with `args`.
    pub fn run_args(
        &self,
        def: &ToolDef,
        task: &str,
        work_dir: &Path,
        args: Vec<OsString>,
    ) -> Result<Vec<OsString>, String> {
        let wd = work_dir.to_str().filter(|w| !w.contains([':', ',']));
        let Some(wd) = wd else {
            return Err(format!(
                "work folder '{}' cannot be mounted: its path must be UTF-8 without ':' or ','",
                work_dir.display()
            ));
        };
        let mut a: Vec<OsString> = vec![
            "run".into(),
            "--rm".into(),
            format!("--name={}", container_name(task)).into(),
            // Lets an operator find Argus's containers (`podman ps --filter label=argus.task`).
            format!("--label=argus.task={task}").into(),
            format!("--network={}", self.network.as_str()).into(),
            "--security-opt=no-new-privileges".into(),
        ];
        if let Some(c) = self.cpus {
            a.push(format!("--cpus={c}").into());
        }
        if let Some(m) = &self.memory {
            a.push(format!("--memory={m}").into());
        }
        // `Z`: a private SELinux label, so the container may write there on SELinux hosts;
        // ignored elsewhere.
        a.push(format!("--volume={wd}:{WORK_MOUNT}:Z").into());
        a.push(format!("--workdir={WORK_MOUNT}").into());
        for (k, v) in &def.env {
            a.push(format!("--env={k}={v}").into());
        }
        for k in &def.env_passthrough {
            if std::env::var_os(k).is_some() {
                a.push(format!("--env={k}").into());
            }
        }
        if !def.executable.trim().is_empty() {
            a.push(format!("--entrypoint={}", def.executable).into());
        }
        a.push(self.image.clone().into());
        a.extend(args);
        Ok(a)
    }
}

/// `memory`: digits with an optional unit.
fn memory_ok(m: &str) -> bool {
    let digits = m.trim_end_matches(['b', 'k', 'm', 'g', 'B', 'K', 'M', 'G']);
    m.len() - digits.len() <= 1
        && !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.bytes().any(|b| b != b'0')
}

/// The container's name for a task.
pub fn container_name(task: &str) -> String {
    format!("argus-{task}")
}

/// The environment of the CLI process: [`CLI_ENV`] and the tool's passthrough values.
pub(crate) fn cli_env(def: &ToolDef) -> std::collections::BTreeMap<String, String> {
    CLI_ENV
        .iter()
        .map(|k| k.to_string())
        .chain(def.env_passthrough.iter().cloned())
        .filter_map(|k| std::env::var(&k).ok().map(|v| (k, v)))
        .collect()
}

fn rm_spec(cli: &ContainerCli, name: &str) -> ProcessSpec {
    ProcessSpec {
        program: cli.program.clone(),
        args: cli.rm_args(name),
        env: CLI_ENV
            .iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
            .collect(),
        cwd: None,
        timeout: REMOVE_TIMEOUT,
        stdout_cap: 64 * 1024,
        stderr_cap: 64 * 1024,
        stdout_file: None,
        stderr_file: None,
        stdin: None,
    }
}

/// Removes `name` through the door, waiting for it (or for `cancel`).
pub(crate) async fn remove(
    door: &SharedProcessDoor,
    cli: &ContainerCli,
    name: &str,
    cancel: &CancellationToken,
) {
    match door.run(rm_spec(cli, name), cancel).await {
        // A missing container is the usual case before a run; anything else is in the log.
        Ok(out) if !out.success() => tracing::debug!(
            container = %name,
            status = ?out.status,
            stderr = %String::from_utf8_lossy(&out.stderr_tail),
            "container rm did not succeed"
        ),
        Ok(_) | Err(ProcessError::Cancelled) => {}
        Err(e) => tracing::warn!(container = %name, error = %e, "could not remove container"),
    }
}

/// Removes the container unless disarmed: [`Self::remove_now`] after an abnormal end of the
/// CLI, and on drop (the run future abandoned mid-way) in the background.
pub(crate) struct ContainerGuard {
    door: SharedProcessDoor,
    cli: ContainerCli,
    name: String,
    armed: bool,
}

impl ContainerGuard {
    pub fn new(door: SharedProcessDoor, cli: ContainerCli, name: String) -> Self {
        ContainerGuard {
            door,
            cli,
            name,
            armed: true,
        }
    }

    /// The CLI exited on its own: `--rm` has removed the container.
    pub fn disarm(&mut self) {
        self.armed = false;
    }

    /// Starts the removal and waits for it up to [`REMOVE_WAIT`]; beyond that it finishes in
    /// the background.
    pub async fn remove_now(&mut self) {
        if let Some(h) = self.spawn_remove() {
            let _ = tokio::time::timeout(REMOVE_WAIT, h).await;
        }
    }

    fn spawn_remove(&mut self) -> Option<tokio::task::JoinHandle<()>> {
        if !std::mem::replace(&mut self.armed, false) {
            return None;
        }
        let handle = tokio::runtime::Handle::try_current().ok()?;
        let door = Arc::clone(&self.door);
        let cli = self.cli.clone();
        let name = self.name.clone();
        // Not the task's token: it has usually fired already, and the removal must happen.
        Some(
            handle
                .spawn(async move { remove(&door, &cli, &name, &CancellationToken::new()).await }),
        )
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        let _ = self.spawn_remove();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_values() {
        for ok in ["256m", "1g", "1048576", "512K", "100b"] {
            assert!(memory_ok(ok), "{ok}");
        }
        for bad in ["", "m", "0", "0m", "1.5g", "256mb", "-1m", "1 g", "256t"] {
            assert!(!memory_ok(bad), "{bad}");
        }
    }

    #[test]
    fn flavor_from_file_name() {
        let p = ContainerCli::new(PathBuf::from("/usr/bin/podman"));
        assert_eq!(p.flavor, Flavor::Podman);
        assert_eq!(
            p.rm_args("argus-x"),
            ["rm", "--force", "--time=0", "argus-x"].map(OsString::from)
        );
        let d = ContainerCli::new(PathBuf::from("/usr/local/bin/docker"));
        assert_eq!(d.flavor, Flavor::Docker);
        assert_eq!(
            d.rm_args("argus-x"),
            ["rm", "--force", "argus-x"].map(OsString::from)
        );
    }
}
