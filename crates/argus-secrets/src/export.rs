//! Exporting a repository (a cleaned bare repository, usually) for download: a git bundle of
//! every ref, or a zip or tar.gz of a bare mirror.
//!
//! - [`ExportFormat::Bundle`]: `git bundle create <file> --all` (every ref and `HEAD`, with
//!   their history). `git clone <file>` restores it.
//! - [`ExportFormat::Zip`] / [`ExportFormat::TarGz`]: a fresh bare mirror is made first
//!   (`git clone --mirror --no-local`, no templates, its `origin` remote removed) and that folder
//!   is archived under one top-level folder `<name>.git/`.
//!
//! Invariants:
//! - Only what the refs reach is exported. A bundle holds reachable objects by nature; archives
//!   are of a fresh mirror made over git's own transport (`--no-local`), never of the source
//!   folder, so objects a history rewrite left unreachable (the old blobs with the secrets) and
//!   the source's config, hooks and reflogs are not in the archive.
//! - Bounded memory: `git` writes the bundle to a file, archive entries are copied file by file
//!   through fixed buffers, and gzip streams. Only a zip to a non-seekable writer goes through
//!   a temporary file first (the zip format needs to seek back to write each entry's sizes).
//! - `git` runs through the process door ([`crate::remote`]): no shell, cleaned environment,
//!   timeout, killed on cancellation. Temporary folders are removed on success, failure and
//!   cancel (they are `TempDir`s).

use crate::push::{check_source, PushError};
use crate::remote::{self, BundleOutcome, GitError, GitOptions};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::{Path, PathBuf};
use tokio_util::sync::CancellationToken;

/// How a repository is exported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// A git bundle of every ref.
    Bundle,
    /// A zip of a bare mirror.
    Zip,
    /// A gzip-compressed tar of a bare mirror.
    #[serde(rename = "tar.gz")]
    TarGz,
}

impl ExportFormat {
    /// Every format, in the order they are documented.
    pub const ALL: [ExportFormat; 3] =
        [ExportFormat::Bundle, ExportFormat::Zip, ExportFormat::TarGz];

    /// The name used in URLs and on the command line: `bundle`, `zip`, `tar.gz`.
    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Bundle => "bundle",
            ExportFormat::Zip => "zip",
            ExportFormat::TarGz => "tar.gz",
        }
    }

    /// The file extension (without the dot).
    pub fn extension(self) -> &'static str {
        self.as_str()
    }

    /// The media type of the exported file.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Bundle => "application/x-git-bundle",
            ExportFormat::Zip => "application/zip",
            ExportFormat::TarGz => "application/gzip",
        }
    }
}

impl std::fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ExportFormat {
    type Err = ExportError;
    fn from_str(s: &str) -> Result<Self, ExportError> {
        match s.to_ascii_lowercase().as_str() {
            "bundle" => Ok(ExportFormat::Bundle),
            "zip" => Ok(ExportFormat::Zip),
            "tar.gz" | "tgz" | "targz" => Ok(ExportFormat::TarGz),
            _ => Err(ExportError::UnknownFormat(s.to_owned())),
        }
    }
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    pub format: ExportFormat,
    /// Bytes written.
    pub bytes: u64,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("unknown export format {0:?} (bundle, zip, tar.gz)")]
    UnknownFormat(String),
    /// The source is not a git repository.
    #[error("{0} is not a git repository")]
    NotARepository(PathBuf),
    /// The source is a shallow clone.
    #[error("{0} is a shallow clone (its history is incomplete); export a full clone")]
    Shallow(PathBuf),
    /// The repository has no refs: there is nothing to export.
    #[error("{0} has no refs: there is nothing to export")]
    Empty(PathBuf),
    /// A `git` run failed.
    #[error(transparent)]
    Git(GitError),
    /// Writing the export failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
    #[error("export cancelled")]
    Cancelled,
}

impl From<GitError> for ExportError {
    fn from(e: GitError) -> Self {
        match e {
            GitError::Cancelled => ExportError::Cancelled,
            other => ExportError::Git(other),
        }
    }
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> ExportError {
    let context = context.into();
    move |source| ExportError::Io { context, source }
}

fn check(repo: &Path) -> Result<PathBuf, ExportError> {
    match check_source(repo) {
        Ok(()) => {}
        Err(PushError::Shallow(p)) => return Err(ExportError::Shallow(p)),
        Err(_) => return Err(ExportError::NotARepository(repo.to_path_buf())),
    }
    // Absolute, so git never reads `host:path` in it as an ssh URL.
    std::fs::canonicalize(repo).map_err(io_err(format!("resolving {}", repo.display())))
}

/// The top-level folder name of an archive: the repository folder's name, ending in `.git`.
fn archive_root(repo: &Path) -> String {
    let name = repo
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .filter(|n| !n.is_empty() && n != ".git")
        .or_else(|| {
            // A work tree's `.git`: name it after the work tree.
            repo.parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "repo".into());
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.ends_with(".git") {
        name
    } else {
        format!("{name}.git")
    }
}

/// Makes a fresh bare mirror of `repo` at `dest` with only what its refs reach.
async fn fresh_mirror(
    repo: &Path,
    dest: &Path,
    empty_template: &Path,
    opts: &GitOptions,
    cancel: &CancellationToken,
) -> Result<(), ExportError> {
    let mut template = OsString::from("--template=");
    template.push(empty_template.as_os_str());
    let args: Vec<OsString> = vec![
        "clone".into(),
        "--mirror".into(),
        "--quiet".into(),
        // Over git's transport, not by copying the object folder: unreachable objects stay behind.
        "--no-local".into(),
        template,
        "--".into(),
        repo.as_os_str().to_owned(),
        dest.as_os_str().to_owned(),
    ];
    let spec = remote::spec(opts, args, remote::base_env(), None);
    remote::run_git("clone", &*opts.door, spec, cancel).await?;
    // The source's path is nobody's business, and the archive should not push back to it.
    let args: Vec<OsString> = vec![
        "config".into(),
        "--remove-section".into(),
        "remote.origin".into(),
    ];
    let spec = remote::spec(opts, args, remote::base_env(), Some(dest.to_path_buf()));
    remote::run_git("config", &*opts.door, spec, cancel).await?;
    Ok(())
}

/// Writes `mirror` as an archive of `format` into `out`, under the folder `root`.
fn write_archive<W: Write + Seek>(
    format: ExportFormat,
    mirror: &Path,
    root: &str,
    out: W,
) -> Result<W, ExportError> {
    match format {
        ExportFormat::Zip => write_zip(mirror, root, out),
        ExportFormat::TarGz => write_tar_gz(mirror, root, out),
        ExportFormat::Bundle => Ok(out),
    }
}

fn write_tar_gz<W: Write>(mirror: &Path, root: &str, out: W) -> Result<W, ExportError> {
    let gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    tar.mode(tar::HeaderMode::Deterministic);
    tar.append_dir_all(root, mirror)
        .map_err(io_err("writing the tar archive"))?;
    let gz = tar
        .into_inner()
        .map_err(io_err("writing the tar archive"))?;
    gz.finish().map_err(io_err("writing the gzip stream"))
}

fn write_zip<W: Write + Seek>(mirror: &Path, root: &str, out: W) -> Result<W, ExportError> {
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;
    let zerr = |e: zip::result::ZipError| ExportError::Io {
        context: "writing the zip archive".into(),
        source: io::Error::other(e),
    };
    let mut zip = zip::ZipWriter::new(out);
    let dir_opts = SimpleFileOptions::default().unix_permissions(0o755);
    zip.add_directory(format!("{root}/"), dir_opts)
        .map_err(zerr)?;
    // Depth-first with sorted names: the same repository gives the same entry order.
    let mut stack = vec![(mirror.to_path_buf(), root.to_owned())];
    while let Some((dir, name)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io_err(format!("reading {}", dir.display())))?
            .collect::<Result<_, _>>()
            .map_err(io_err(format!("reading {}", dir.display())))?;
        entries.sort_by_key(|e| e.file_name());
        let mut subdirs = Vec::new();
        for e in entries {
            let path = e.path();
            let entry_name = format!("{name}/{}", e.file_name().to_string_lossy());
            let meta = std::fs::symlink_metadata(&path)
                .map_err(io_err(format!("reading {}", path.display())))?;
            if meta.is_dir() {
                zip.add_directory(format!("{entry_name}/"), dir_opts)
                    .map_err(zerr)?;
                subdirs.push((path, entry_name));
            } else if meta.is_file() {
                // Packs are zlib-compressed already: store them as they are.
                let method = if entry_name.ends_with(".pack") {
                    CompressionMethod::Stored
                } else {
                    CompressionMethod::Deflated
                };
                let opts = SimpleFileOptions::default()
                    .compression_method(method)
                    .unix_permissions(mode_of(&meta))
                    .large_file(meta.len() >= u64::from(u32::MAX));
                zip.start_file(entry_name, opts).map_err(zerr)?;
                let mut f =
                    File::open(&path).map_err(io_err(format!("reading {}", path.display())))?;
                io::copy(&mut f, &mut zip).map_err(io_err("writing the zip archive"))?;
            }
            // A fresh mirror has no symlinks or special files; anything else is skipped.
        }
        stack.extend(subdirs.into_iter().rev());
    }
    zip.finish().map_err(zerr)
}

#[cfg(unix)]
fn mode_of(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn mode_of(_: &std::fs::Metadata) -> u32 {
    0o644
}

/// Exports `repo` as `format` into the file `dest` (created or truncated).
pub async fn export_to_file(
    repo: &Path,
    format: ExportFormat,
    dest: &Path,
    opts: &GitOptions,
    cancel: &CancellationToken,
) -> Result<ExportSummary, ExportError> {
    let src = check(repo)?;
    match format {
        ExportFormat::Bundle => match remote::create_bundle(&src, dest, opts, cancel).await? {
            BundleOutcome::Created => {}
            BundleOutcome::Empty => return Err(ExportError::Empty(repo.to_path_buf())),
        },
        ExportFormat::Zip | ExportFormat::TarGz => {
            let work = tempfile::Builder::new()
                .prefix("argus-export-")
                .tempdir()
                .map_err(io_err("creating a temporary folder"))?;
            let template = work.path().join("template");
            std::fs::create_dir(&template).map_err(io_err("creating a temporary folder"))?;
            let mirror = work.path().join("mirror.git");
            fresh_mirror(&src, &mirror, &template, opts, cancel).await?;
            let root = archive_root(&src);
            let dest = dest.to_path_buf();
            let file =
                File::create(&dest).map_err(io_err(format!("creating {}", dest.display())))?;
            let cancel = cancel.clone();
            tokio::task::spawn_blocking(move || -> Result<(), ExportError> {
                let _keep = work;
                let out = write_archive(format, &mirror, &root, BufWriter::new(file))?;
                if cancel.is_cancelled() {
                    return Err(ExportError::Cancelled);
                }
                out.into_inner()
                    .map_err(|e| ExportError::Io {
                        context: "writing the archive".into(),
                        source: e.into_error(),
                    })?
                    .sync_all()
                    .map_err(io_err("writing the archive"))
            })
            .await
            .map_err(|e| ExportError::Io {
                context: "the archive writer stopped".into(),
                source: io::Error::other(e.to_string()),
            })??;
        }
    }
    let bytes = std::fs::metadata(dest)
        .map_err(io_err(format!("reading {}", dest.display())))?
        .len();
    tracing::info!(repo = %repo.display(), %format, bytes, "repository exported");
    Ok(ExportSummary { format, bytes })
}

/// Exports `repo` as `format` into `out` (stdout, an upload stream): written to a temporary file
/// first (git writes bundles to files; zip needs to seek), then copied through a fixed buffer.
/// Returns the writer (flushed) with the summary.
pub async fn export_to_writer<W: Write + Send + 'static>(
    repo: &Path,
    format: ExportFormat,
    mut out: W,
    opts: &GitOptions,
    cancel: &CancellationToken,
) -> Result<(W, ExportSummary), ExportError> {
    let tmp = tempfile::Builder::new()
        .prefix("argus-export-")
        .tempdir()
        .map_err(io_err("creating a temporary folder"))?;
    let file = tmp.path().join(format!("export.{}", format.extension()));
    let summary = export_to_file(repo, format, &file, opts, cancel).await?;
    let cancel = cancel.clone();
    tokio::task::spawn_blocking(move || -> Result<(W, ExportSummary), ExportError> {
        let _keep = tmp;
        let mut f = File::open(&file).map_err(io_err("reading the export"))?;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            if cancel.is_cancelled() {
                return Err(ExportError::Cancelled);
            }
            let n = io::Read::read(&mut f, &mut buf).map_err(io_err("reading the export"))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(io_err("writing the export"))?;
        }
        out.flush().map_err(io_err("writing the export"))?;
        Ok((out, summary))
    })
    .await
    .map_err(|e| ExportError::Io {
        context: "the export writer stopped".into(),
        source: io::Error::other(e.to_string()),
    })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_archives_are_named_after_the_repository() {
        for f in ExportFormat::ALL {
            assert_eq!(f.as_str().parse::<ExportFormat>().unwrap(), f);
        }
        assert_eq!("tgz".parse::<ExportFormat>().unwrap(), ExportFormat::TarGz);
        assert!("rar".parse::<ExportFormat>().is_err());
        assert_eq!(archive_root(Path::new("/x/clean.git")), "clean.git");
        assert_eq!(archive_root(Path::new("/x/my repo")), "my_repo.git");
        assert_eq!(archive_root(Path::new("/x/work/.git")), "work.git");
        assert_eq!(
            serde_json::to_string(&ExportFormat::TarGz).unwrap(),
            "\"tar.gz\""
        );
    }
}
