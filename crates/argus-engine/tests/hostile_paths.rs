//! Hostile local paths against `scan.local_roots` (issue #16, "Hostile input, in CI"): targets
//! built from `..`, `.`, symlinks that point out of the root (and back in), doubled slashes and
//! `file://` URLs with encoded dots, on a real folder tree with real symlinks.
//!
//! The property: whatever [`LocalAccess::check`] lets through names, as the kernel resolves it
//! (what a scanner opening the target's value would read), a path inside a root, or nothing
//! that exists yet. A refusal never names the configured roots.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use argus_core::target::{Target, TargetKind};
use argus_engine::policy::{local_path, LocalAccess};
use proptest::prelude::*;

/// `tmp/root/{a/inner.txt, in_link → a, out_link → ../outside, deep/out_deep → ../../outside/deep}`
/// and `tmp/outside/{secret.txt, deep/x.txt}`.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
    outside: PathBuf,
}

fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("root");
    let outside = base.join("outside");
    std::fs::create_dir_all(root.join("a")).unwrap();
    std::fs::create_dir_all(root.join("deep")).unwrap();
    std::fs::create_dir_all(outside.join("deep")).unwrap();
    std::fs::write(root.join("a/inner.txt"), b"inner").unwrap();
    std::fs::write(outside.join("secret.txt"), b"secret").unwrap();
    std::fs::write(outside.join("deep/x.txt"), b"x").unwrap();
    // The file a `root/out_deep/../secret.txt`-style path reaches through the kernel.
    std::fs::write(outside.join("a.txt"), b"a").unwrap();
    std::os::unix::fs::symlink(root.join("a"), root.join("in_link")).unwrap();
    std::os::unix::fs::symlink(&outside, root.join("out_link")).unwrap();
    std::os::unix::fs::symlink(outside.join("deep"), root.join("deep/out_deep")).unwrap();
    // A symlink inside the root to a file outside it.
    std::os::unix::fs::symlink(outside.join("secret.txt"), root.join("a/leak.txt")).unwrap();
    Tree {
        _dir: dir,
        root,
        outside,
    }
}

fn segment() -> impl Strategy<Value = &'static str> {
    proptest::sample::select(vec![
        "..",
        ".",
        "",
        "a",
        "deep",
        "in_link",
        "out_link",
        "out_deep",
        "inner.txt",
        "leak.txt",
        "secret.txt",
        "x.txt",
        "a.txt",
        "root",
        "outside",
        "missing",
    ])
}

/// What the kernel would open for `p`, if it exists.
fn resolved(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn an_allowed_path_never_resolves_outside_the_root(
        segs in proptest::collection::vec(segment(), 0..7),
        start_outside in any::<bool>(),
        form in 0u8..4,
    ) {
        let t = tree();
        let policy = LocalAccess::new(std::slice::from_ref(&t.root));
        let start = if start_outside { &t.outside } else { &t.root };
        let raw = format!("{}/{}", start.display(), segs.join("/"));
        let value = match form {
            0 => raw.clone(),
            1 => format!("file://{raw}"),
            2 => format!("file://{}", raw.replace("..", "%2e%2e")),
            _ => raw.replace('/', "//"),
        };
        let kinds = [TargetKind::Repo, TargetKind::Location, TargetKind::Object];
        for kind in kinds {
            let Ok(target) = Target::parse(kind, &value) else { continue };
            let verdict = policy.check(&target);
            if let Err(why) = &verdict {
                // The refusal names the target, never the configured roots.
                let root = t.root.display().to_string();
                prop_assert!(value.contains(&root) || !why.contains(&root), "{why}");
                continue;
            }
            // Allowed: what a scanner would open is the target's own local path.
            let path = local_path(&target).expect("a local target");
            if let Some(real) = resolved(&path) {
                prop_assert!(
                    real.starts_with(&t.root),
                    "{kind} {value:?} was allowed but {} resolves to {}",
                    path.display(),
                    real.display()
                );
            }
            prop_assert!(policy.check_path(&path).is_ok());
        }
    }
}

/// The cases the property is about, named: a symlink out then `..`, a symlink to a file out,
/// `..` past the root, an encoded `..` in a URL; and what stays allowed.
#[test]
fn named_escapes_are_refused_and_inside_paths_allowed() {
    let t = tree();
    let policy = LocalAccess::new(std::slice::from_ref(&t.root));
    let r = t.root.display().to_string();
    let repo = |v: String| Target::parse(TargetKind::Repo, &v).unwrap();
    for bad in [
        // `deep/out_deep` → outside/deep; `..` from there is `outside`, where a.txt lives.
        format!("{r}/deep/out_deep/../a.txt"),
        format!("{r}/out_link/secret.txt"),
        format!("{r}/a/leak.txt"),
        format!("{r}/../outside/secret.txt"),
        format!("{r}/a/../../outside"),
        format!("file://{r}/%2e%2e/outside/secret.txt"),
        format!("file://{r}/out_link"),
    ] {
        assert!(policy.check(&repo(bad.clone())).is_err(), "{bad} allowed");
    }
    for good in [
        format!("{r}/a"),
        format!("{r}/a/inner.txt"),
        format!("{r}/in_link/inner.txt"),
        format!("{r}/in_link/../a"),
        format!("{r}/missing/later"),
        format!("file://{r}/a/./inner.txt"),
    ] {
        assert!(policy.check(&repo(good.clone())).is_ok(), "{good} refused");
    }
    let loc = Target::parse(TargetKind::Location, &format!("file://{r}/out_link/")).unwrap();
    assert!(policy.check(&loc).is_err());
    let _ = &t.outside;
}
