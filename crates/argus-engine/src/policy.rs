//! What a tenant's scan may touch on this server's own file system.
//!
//! A `repo` target given as a local path (or a `file://` URL) and a `file://` location make a
//! worker read the server's disk. In server modes that is refused unless the path resolves
//! inside one of the folders the operator listed (`scan.local_roots`; none by default), so a
//! caller cannot make the server read its own configuration, keys or other tenants' data.
//!
//! Invariants:
//! - A path is checked in its resolved form: `..` segments are removed first, and when the path
//!   exists its symlinks are followed (`canonicalize`), so neither `root/../etc` nor a symlink
//!   inside a root that points outside passes. The path as given is resolved too (symlinks
//!   before the `..` after them, as the kernel does when a scanner opens it), so
//!   `root/link/../x` with `link` pointing out of the root does not pass either.
//! - Relative paths are refused: they would mean whatever directory the server runs in.
//! - The check runs where targets enter a scan (creation, chaining) and again right before a
//!   task runs (the configuration may have changed, and a file may have become a symlink).
//! - Refusals name the target, never the configured roots (they describe the server).

use std::path::{Component, Path, PathBuf};

use argus_core::target::{Target, TargetKind};

/// The local folders scans may read.
#[derive(Clone, Debug, Default)]
pub struct LocalAccess {
    /// Canonical forms of the configured roots (as given when they do not exist).
    roots: Vec<PathBuf>,
    /// Every path allowed, relative ones too: direct mode, where the person at the keyboard
    /// names what to scan on their own machine.
    unrestricted: bool,
}

impl LocalAccess {
    /// Allows paths inside `roots` (made canonical here, once).
    pub fn new(roots: &[PathBuf]) -> Self {
        LocalAccess {
            roots: roots
                .iter()
                .map(|r| std::fs::canonicalize(r).unwrap_or_else(|_| normalize(r)))
                .collect(),
            unrestricted: false,
        }
    }

    /// Allows every path (direct mode only: never for a server, whose scans are a tenant's).
    pub fn unrestricted() -> Self {
        LocalAccess {
            roots: Vec::new(),
            unrestricted: true,
        }
    }

    /// Whether `target` may be scanned here: `Err` carries why not.
    pub fn check(&self, target: &Target) -> Result<(), String> {
        if self.unrestricted {
            return Ok(());
        }
        match local_path(target) {
            Some(path) => self.check_named(&path, target.value()),
            None => Ok(()),
        }
    }

    /// Whether a server path that a scan's params name (a scanner's rule files) may be read
    /// here: the same folders as local targets.
    pub fn check_path(&self, path: &Path) -> Result<(), String> {
        if self.unrestricted {
            return Ok(());
        }
        self.check_named(path, &path.display().to_string())
    }

    fn check_named(&self, path: &Path, named: &str) -> Result<(), String> {
        let refuse = || {
            Err(format!(
                "{named} names a path on the server, and this server does not allow reading it \
                 (an operator can allow folders with scan.local_roots)"
            ))
        };
        if !path.is_absolute() {
            return Err(format!(
                "{named} is a relative path; give an absolute path inside a folder the server \
                 allows (scan.local_roots)"
            ));
        }
        let lexical = normalize(path);
        if !self.inside(&lexical) {
            return refuse();
        }
        // Follow symlinks where the path exists (a missing path is reported by the scanner),
        // in both forms: the lexical one, and the path as given, which is what a scanner opens.
        // The kernel resolves a symlink before the `..` after it, so `root/link/../x` with
        // `link` pointing out of the root reaches `x` beside the link's target, although its
        // lexical form `root/x` is inside.
        for form in [lexical.as_path(), path] {
            if let Ok(real) = std::fs::canonicalize(form) {
                if !self.inside(&real) {
                    return refuse();
                }
            }
        }
        Ok(())
    }

    fn inside(&self, p: &Path) -> bool {
        self.roots.iter().any(|r| p.starts_with(r))
    }
}

/// The local path a target names, if it names one: a `repo` that is not a network URL, or a
/// `file://` repo, location or object.
pub fn local_path(target: &Target) -> Option<PathBuf> {
    let v = target.value();
    match target.kind() {
        TargetKind::Repo => {
            if let Ok(u) = url::Url::parse(v) {
                return match u.scheme() {
                    "file" => u
                        .to_file_path()
                        .ok()
                        .or_else(|| Some(PathBuf::from(u.path()))),
                    // A one-letter "scheme" is a Windows drive, not a URL; anything else is
                    // a network transport (or one the scanner refuses).
                    s if s.len() > 1 => None,
                    _ => Some(PathBuf::from(v)),
                };
            }
            if is_scp_like(v) {
                return None;
            }
            Some(PathBuf::from(v))
        }
        TargetKind::Location | TargetKind::Object => {
            let u = url::Url::parse(v).ok()?;
            (u.scheme() == "file").then(|| {
                u.to_file_path()
                    .ok()
                    .unwrap_or_else(|| PathBuf::from(u.path()))
            })
        }
        _ => None,
    }
}

/// `user@host:path`, git's scp-like ssh syntax.
fn is_scp_like(v: &str) -> bool {
    match v.split_once(':') {
        Some((head, _)) => head.contains('@') && !head.contains('/'),
        None => false,
    }
}

/// Removes `.` and `..` segments without touching the file system (`..` at the root stays at
/// the root, as the kernel does).
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(v: &str) -> Target {
        Target::parse(TargetKind::Repo, v).unwrap()
    }

    #[test]
    fn network_targets_are_not_local() {
        let none = LocalAccess::default();
        for v in [
            "https://github.com/o/r.git",
            "ssh://git@host/o/r.git",
            "git@github.com:o/r.git",
            "git://host/r",
        ] {
            assert!(none.check(&repo(v)).is_ok(), "{v}");
        }
        let d = Target::parse(TargetKind::Domain, "example.com").unwrap();
        assert!(none.check(&d).is_ok());
        let s3 = Target::parse(TargetKind::Location, "s3://b/p").unwrap();
        assert!(none.check(&s3).is_ok());
    }

    #[test]
    fn local_paths_need_a_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("repos");
        std::fs::create_dir_all(root.join("a")).unwrap();
        let outside = dir.path().join("secret");
        std::fs::create_dir_all(&outside).unwrap();
        let none = LocalAccess::default();
        let some = LocalAccess::new(std::slice::from_ref(&root));
        let inside = root.join("a").display().to_string();
        assert!(none.check(&repo(&inside)).is_err());
        assert!(some.check(&repo(&inside)).is_ok());
        assert!(some.check(&repo(&format!("file://{inside}"))).is_ok());
        let loc = Target::parse(TargetKind::Location, &format!("file://{inside}")).unwrap();
        assert!(some.check(&loc).is_ok());
        assert!(none.check(&loc).is_err());
        // Escapes: `..`, a symlink pointing out, a relative path, the server's own files.
        let dotdot = format!("{}/../secret", root.display());
        assert!(some.check(&repo(&dotdot)).is_err());
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let link = root.join("link").display().to_string();
        assert!(some.check(&repo(&link)).is_err());
        assert!(some.check(&repo("repos/a")).is_err());
        assert!(some.check(&repo("/etc")).is_err());
        let etc = Target::parse(TargetKind::Location, "file:///etc/").unwrap();
        let err = some.check(&etc).unwrap_err();
        assert!(!err.contains(&root.display().to_string()), "{err}");
        // Direct mode's policy lets the person at the keyboard name anything.
        let any = LocalAccess::unrestricted();
        assert!(any.check(&etc).is_ok());
        assert!(any.check(&repo("repos/a")).is_ok());
    }
}
