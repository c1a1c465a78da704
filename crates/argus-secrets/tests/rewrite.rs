//! History rewriting (`argus_secrets::rewrite`) on real repositories built with the `git` CLI:
//! secrets deleted in later commits, on side branches, reachable only from tags (annotated and
//! lightweight), in renamed files and introduced by a merge; signed commits; LFS pointers; bad
//! input. Every check reads the output with `git` or rescans it with the engine.
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

mod common;

use argus_secrets::rewrite::{
    rewrite_history, RewriteControl, RewriteError, RewritePlan, RewriteReport, DEFAULT_REPLACEMENT,
};
use argus_secrets::{Engine, GitScanOptions, ScanControl};
use common::{
    git, ALICE, BOB, CAROL, GH_TOKEN, GITLAB, NPM_TOKEN, SENDGRID, SLACK_BOT, STRIPE, T0,
};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

const DAY: i64 = 86_400;
/// Selected for removal; GITLAB stays (unselected).
const SELECTED: [&str; 5] = [GH_TOKEN, NPM_TOKEN, STRIPE, SENDGRID, SLACK_BOT];

fn write(root: &Path, rel: &str, data: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn run(dir: &Path, args: &[&str]) -> String {
    git(dir, args, ALICE, T0)
}

struct Fx {
    dir: tempfile::TempDir,
    ids: HashMap<&'static str, String>,
}

impl Fx {
    fn src(&self) -> std::path::PathBuf {
        self.dir.path().join("src")
    }
}

/// The fixture history (dates fixed so ids are reproducible):
/// c1 (clean) ← c2 (GH token in config.env; tag v1 annotated, signed-unchanged hangs off c1)
/// ← c3 (token deleted) ← c4 (stripe in old.cfg) ← c5 (old.cfg renamed to new/renamed.cfg)
/// side: c3 ← s1 (npm token) ← s2; m1 = merge of side into main adding SendGrid key itself;
/// c6 (GitLab token, unselected); signed commit on top of c6 (refs/heads/signed);
/// tag-only commit t1 (Slack token) reachable only from tags `v-secret` (annotated) and
/// `lw-secret` (lightweight).
fn build() -> Fx {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    let r = r.as_path();
    let mut ids = HashMap::new();
    let commit = |msg: &str, who, day: i64| {
        git(r, &["add", "-A"], who, T0 + day * DAY);
        git(r, &["commit", "-q", "-m", msg], who, T0 + day * DAY);
        git(r, &["rev-parse", "HEAD"], who, T0 + day * DAY)
    };
    git(r, &["init", "-q", "-b", "main"], ALICE, T0);
    write(r, "README.md", "# demo\n");
    ids.insert("c1", commit("c1 readme", ALICE, 0));
    write(r, "config.env", &format!("GITHUB_TOKEN={GH_TOKEN}\nX=1\n"));
    write(r, "src/app.py", "print('hi')\n");
    ids.insert("c2", commit("c2 config", BOB, 1));
    git(r, &["tag", "-a", "v1", "-m", "release one"], BOB, T0 + DAY);
    write(r, "config.env", "GITHUB_TOKEN=${GITHUB_TOKEN}\nX=1\n");
    ids.insert("c3", commit("c3 remove token", BOB, 2));
    write(r, "old.cfg", &format!("stripe_key = \"{STRIPE}\"\n"));
    ids.insert("c4", commit("c4 stripe", CAROL, 3));
    std::fs::create_dir_all(r.join("new")).unwrap();
    git(
        r,
        &["mv", "old.cfg", "new/renamed.cfg"],
        CAROL,
        T0 + 4 * DAY,
    );
    ids.insert("c5", commit("c5 rename", CAROL, 4));
    // Side branch from c3.
    git(r, &["checkout", "-q", "-b", "side", &ids["c3"]], ALICE, T0);
    write(
        r,
        "side/npmrc",
        &format!("//registry.npmjs.org/:_authToken={NPM_TOKEN}\n"),
    );
    ids.insert("s1", commit("s1 npm", ALICE, 5));
    write(r, "side/other.txt", "more\n");
    ids.insert("s2", commit("s2 more", ALICE, 6));
    git(r, &["checkout", "-q", "main"], ALICE, T0);
    let when = T0 + 7 * DAY;
    git(
        r,
        &["merge", "-q", "--no-ff", "--no-commit", "side"],
        BOB,
        when,
    );
    write(
        r,
        "merge-only.txt",
        &format!("SENDGRID_API_KEY={SENDGRID}\n"),
    );
    ids.insert("m1", commit("m1 merge side", BOB, 7));
    write(r, "keep.txt", &format!("GITLAB_TOKEN={GITLAB}\n"));
    ids.insert("c6", commit("c6 gitlab", ALICE, 8));
    // Tag-only history.
    git(r, &["checkout", "-q", "-b", "tmp", &ids["c1"]], ALICE, T0);
    write(r, "tagged.txt", &format!("SLACK_TOKEN={SLACK_BOT}\n"));
    ids.insert("t1", commit("t1 tag only", CAROL, 9));
    git(
        r,
        &["tag", "-a", "v-secret", "-m", "tag only"],
        CAROL,
        T0 + 9 * DAY,
    );
    git(r, &["tag", "lw-secret"], CAROL, T0 + 9 * DAY);
    git(r, &["checkout", "-q", "main"], ALICE, T0);
    git(r, &["branch", "-q", "-D", "tmp"], ALICE, T0);
    git(r, &["tag", "lw1", &ids["c1"]], ALICE, T0);
    // Signed commits (fake signature header; no gpg needed): one over rewritten history, one
    // over untouched history.
    let signed = |tree: &str, parent: &str, msg: &str| {
        let raw = format!(
            "tree {tree}\nparent {parent}\nauthor Eve <eve@example.com> {t} +0000\ncommitter Eve <eve@example.com> {t} +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEEfake\n -----END PGP SIGNATURE-----\n\n{msg}\n",
            t = T0 + 10 * DAY
        );
        let p = r.join("../signed.raw");
        std::fs::write(&p, raw).unwrap();
        let path = p.to_string_lossy().into_owned();
        run(r, &["hash-object", "-t", "commit", "-w", &path])
    };
    let c6_tree = run(r, &["rev-parse", &format!("{}^{{tree}}", ids["c6"])]);
    let s = signed(&c6_tree, &ids["c6"], "signed on top");
    run(r, &["update-ref", "refs/heads/signed", &s]);
    ids.insert("signed", s);
    let c1_tree = run(r, &["rev-parse", &format!("{}^{{tree}}", ids["c1"])]);
    let s = signed(&c1_tree, &ids["c1"], "signed untouched");
    run(r, &["update-ref", "refs/heads/signed-old", &s]);
    ids.insert("signed-old", s);
    Fx { dir, ids }
}

/// Secret values found by the engine in `repo`, by value, with their SHA-256 (what a report
/// holds) — the values are only used to build the plan and to check the output.
fn found_values(repo: &Path) -> BTreeMap<String, String> {
    let mut opts = GitScanOptions::default();
    opts.policy.keep_secret_values = true;
    let mut out = BTreeMap::new();
    Engine::builtin()
        .unwrap()
        .scan_git(repo, &opts, &ScanControl::new(), &mut |f| {
            let v = f.secret.as_ref().unwrap().expose().to_string();
            out.insert(v, f.sha256.clone());
        })
        .unwrap();
    out
}

fn plan_for(values: &[&str]) -> RewritePlan {
    let mut plan = RewritePlan::default();
    for v in values {
        plan.add(
            argus_secrets::SecretValue::new((*v).to_string()),
            DEFAULT_REPLACEMENT,
        );
    }
    plan
}

/// Every object and ref of a repository (to prove the source is untouched).
fn snapshot(repo: &Path) -> (String, String) {
    (
        run(repo, &["for-each-ref", "--format=%(refname) %(objectname)"]),
        run(
            repo,
            &[
                "cat-file",
                "--batch-all-objects",
                "--batch-check",
                "--unordered",
            ],
        ),
    )
}

fn git_ok(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

fn clean(fx: &Fx, plan: &RewritePlan) -> (std::path::PathBuf, RewriteReport) {
    let out = fx.dir.path().join("out.git");
    let report = rewrite_history(&fx.src(), &out, plan, &RewriteControl::default()).unwrap();
    (out, report)
}

#[test]
fn fixture_plants_what_the_test_expects() {
    let fx = build();
    let found = found_values(&fx.src());
    for v in SELECTED.iter().chain([&GITLAB]) {
        assert!(
            found.contains_key(*v),
            "the engine must find every planted secret"
        );
    }
}

#[test]
fn cleans_every_selected_secret_and_keeps_everything_else() {
    let fx = build();
    let src = fx.src();
    let before = snapshot(&src);
    let plan = plan_for(&SELECTED);
    let (out, report) = clean(&fx, &plan);

    // The source is untouched.
    assert_eq!(snapshot(&src), before);

    // fsck clean, and the output stands alone (no alternates left behind).
    let fsck = git_ok(&out, &["fsck", "--full", "--strict", "--no-dangling"]);
    assert!(
        fsck.status.success() && fsck.stdout.is_empty(),
        "fsck: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    assert!(!out.join("objects/info/alternates").exists());
    // Not one object of the output carries a selected value (unreachable ones included).
    let all = run(
        &out,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ],
    );
    for id in all.lines() {
        let body = git_ok(&out, &["cat-file", "-p", id]).stdout;
        let body = String::from_utf8_lossy(&body);
        for v in SELECTED {
            assert!(
                !body.contains(v),
                "object {id} still holds a selected secret"
            );
        }
    }

    // Rescan: none of the selected, every unselected.
    let after = found_values(&out);
    for v in SELECTED {
        assert!(!after.contains_key(v), "a selected secret survived");
    }
    assert!(
        after.contains_key(GITLAB),
        "the unselected secret must stay"
    );
    let kept = std::fs::read_to_string(out.join("commit-map")).unwrap();
    assert!(!kept.contains(GITLAB));
    let c6_new = map_of(&report)[&fx.ids["c6"]].clone();
    let keep = run(&out, &["show", &format!("{c6_new}:keep.txt")]);
    assert_eq!(keep, format!("GITLAB_TOKEN={GITLAB}"));
    let cfg = run(
        &out,
        &[
            "show",
            &format!("{}:config.env", map_of(&report)[&fx.ids["c2"]]),
        ],
    );
    assert_eq!(cfg, format!("GITHUB_TOKEN={DEFAULT_REPLACEMENT}\nX=1"));

    // Same refs, same tags, same commit count.
    let names = |r: &Path| run(r, &["for-each-ref", "--format=%(refname) %(objecttype)"]);
    assert_eq!(names(&src), names(&out));
    assert_eq!(run(&src, &["tag", "-l"]), run(&out, &["tag", "-l"]));
    let count = |r: &Path| run(r, &["rev-list", "--all", "--count"]);
    assert_eq!(count(&src), count(&out));
    assert_eq!(report.commits_total.to_string(), count(&src));
    assert_eq!(
        run(&src, &["symbolic-ref", "HEAD"]),
        run(&out, &["symbolic-ref", "HEAD"])
    );

    // Commit map complete, and the file says the same.
    let map = map_of(&report);
    let all_src: BTreeSet<String> = run(&src, &["rev-list", "--all"])
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(map.keys().cloned().collect::<BTreeSet<_>>(), all_src);
    let file: BTreeMap<String, String> = kept
        .lines()
        .skip(1)
        .map(|l| {
            let (a, b) = l.split_once(' ').unwrap();
            (a.to_string(), b.to_string())
        })
        .collect();
    assert_eq!(file, map);
    assert!(kept.starts_with("old"));

    // Merge shape and parent order, author/committer/dates/messages.
    let parents = |r: &Path| -> BTreeMap<String, Vec<String>> {
        run(r, &["rev-list", "--all", "--parents"])
            .lines()
            .map(|l| {
                let mut it = l.split(' ').map(str::to_string);
                (it.next().unwrap(), it.collect())
            })
            .collect()
    };
    let (ps, po) = (parents(&src), parents(&out));
    for (old, new) in &map {
        let mapped: Vec<String> = ps[old].iter().map(|p| map[p].clone()).collect();
        assert_eq!(po[new], mapped, "parents of {old}");
        let fmt = "--format=%an|%ae|%ad|%cn|%ce|%cd|%e|%B";
        assert_eq!(
            run(&src, &["show", "-s", fmt, old]),
            run(&out, &["show", "-s", fmt, new]),
            "metadata of {old}"
        );
    }
    assert_eq!(ps[&fx.ids["m1"]].len(), 2);

    // Commits before the first affected one keep their ids; later ones change.
    assert_eq!(map[&fx.ids["c1"]], fx.ids["c1"]);
    assert_eq!(map[&fx.ids["signed-old"]], fx.ids["signed-old"]);
    for c in [
        "c2", "c3", "c4", "c5", "s1", "s2", "m1", "c6", "t1", "signed",
    ] {
        assert_ne!(map[&fx.ids[c]], fx.ids[c], "{c} must be rewritten");
    }
    assert_eq!(report.commits_rewritten, 10);
    assert_eq!(run(&out, &["rev-parse", "lw1"]), fx.ids["c1"]);

    // Tags: annotated ones re-created (still annotated, same message), lightweight moved.
    for t in ["v1", "v-secret"] {
        assert_eq!(
            run(&out, &["cat-file", "-t", &format!("refs/tags/{t}")]),
            "tag"
        );
        assert_eq!(
            run(&out, &["rev-parse", &format!("{t}^{{commit}}")]),
            map[&run(&src, &["rev-parse", &format!("{t}^{{commit}}")])]
        );
        let body = |r: &Path| run(r, &["cat-file", "tag", t]);
        let (a, b) = (body(&src), body(&out));
        assert_eq!(
            a.lines().skip(1).collect::<Vec<_>>(),
            b.lines().skip(1).collect::<Vec<_>>()
        );
    }
    assert_eq!(run(&out, &["rev-parse", "lw-secret"]), map[&fx.ids["t1"]]);
    assert_eq!(report.tags_rewritten, 2);

    // Signatures: the rewritten signed commit lost its signature and is listed; the untouched
    // one kept it.
    assert_eq!(report.signatures_dropped.len(), 1);
    assert_eq!(report.signatures_dropped[0].old, fx.ids["signed"]);
    assert_eq!(report.signatures_dropped[0].kind, "commit");
    let signed_new = run(&out, &["cat-file", "commit", "refs/heads/signed"]);
    assert!(!signed_new.contains("gpgsig"));
    assert!(run(&out, &["cat-file", "commit", "refs/heads/signed-old"]).contains("gpgsig"));

    // Counts: one blob per (file version, secret) — config.env@c2, old.cfg (renamed: same blob),
    // npmrc, merge-only.txt, tagged.txt.
    assert_eq!(report.blobs_changed, 5);
    assert!(report.trees_changed >= 5);
    assert!(report.refs_updated >= 5);
    assert!(report.lfs_pointers_left.is_empty());
}

fn map_of(r: &RewriteReport) -> BTreeMap<String, String> {
    r.commit_map.iter().cloned().collect()
}

#[test]
fn nothing_matching_keeps_every_id() {
    let fx = build();
    let plan = plan_for(&[concat!("not-", "in-the-repository-at-all-123")]);
    let (out, report) = clean(&fx, &plan);
    assert_eq!(report.commits_rewritten, 0);
    assert_eq!(report.blobs_changed, 0);
    assert_eq!(report.refs_updated, 0);
    assert_eq!(
        run(
            &fx.src(),
            &["for-each-ref", "--format=%(refname) %(objectname)"]
        ),
        run(&out, &["for-each-ref", "--format=%(refname) %(objectname)"])
    );
    assert!(git_ok(&out, &["fsck", "--full"]).status.success());
}

#[test]
fn messages_are_cleaned_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], ALICE, T0);
    write(&r, "a.txt", "clean\n");
    git(&r, &["add", "-A"], ALICE, T0);
    let msg = format!("oops pasted {STRIPE} here");
    git(&r, &["commit", "-q", "-m", &msg], ALICE, T0);
    git(&r, &["tag", "-a", "t", "-m", &msg], ALICE, T0);
    let mut plan = plan_for(&[STRIPE]);
    plan.replacements[0].with = "[stripe]".into();

    let out = dir.path().join("a.git");
    let rep = rewrite_history(&r, &out, &plan, &RewriteControl::default()).unwrap();
    assert_eq!(rep.commits_rewritten, 0);
    assert!(run(&out, &["log", "-1", "--format=%B", "main"]).contains(STRIPE));

    plan.messages = true;
    let out = dir.path().join("b.git");
    let rep = rewrite_history(&r, &out, &plan, &RewriteControl::default()).unwrap();
    assert_eq!(rep.commits_rewritten, 1);
    assert_eq!(rep.messages_changed, 2);
    assert_eq!(
        run(&out, &["log", "-1", "--format=%B", "main"]),
        "oops pasted [stripe] here"
    );
    let tag = run(&out, &["cat-file", "tag", "t"]);
    assert!(tag.ends_with("oops pasted [stripe] here"), "{tag}");
}

#[test]
fn lfs_pointers_are_left_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], ALICE, T0);
    let pointer = format!(
        "version https://git-lfs.github.com/spec/v1\noid sha256:{}\nsize 12\next-0-note {STRIPE}\n",
        "a".repeat(64)
    );
    write(&r, "big.bin", &pointer);
    write(&r, "plain.txt", &format!("k={STRIPE}\n"));
    git(&r, &["add", "-A"], ALICE, T0);
    git(&r, &["commit", "-q", "-m", "lfs"], ALICE, T0);
    let out = dir.path().join("o.git");
    let rep = rewrite_history(&r, &out, &plan_for(&[STRIPE]), &RewriteControl::default()).unwrap();
    assert_eq!(rep.blobs_changed, 1);
    assert_eq!(rep.lfs_pointers_left.len(), 1);
    assert_eq!(run(&out, &["show", "main:big.bin"]), pointer.trim_end());
    assert_eq!(
        run(&out, &["show", "main:plain.txt"]),
        format!("k={DEFAULT_REPLACEMENT}")
    );
}

#[test]
fn bad_input_gives_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let plan = plan_for(&[STRIPE]);
    let ctl = RewriteControl::default();

    let not_repo = dir.path().join("plain");
    std::fs::create_dir_all(&not_repo).unwrap();
    let e = rewrite_history(&not_repo, &dir.path().join("o1"), &plan, &ctl).unwrap_err();
    assert!(matches!(e, RewriteError::NotARepository(_)), "{e}");
    assert!(e.to_string().contains("is not a git repository"));
    assert!(!dir.path().join("o1").exists());

    let fx = build();
    let shallow = dir.path().join("shallow");
    let url = format!("file://{}", fx.src().display());
    run(
        dir.path(),
        &["clone", "-q", "--depth", "1", &url, "shallow"],
    );
    let e = rewrite_history(&shallow, &dir.path().join("o2"), &plan, &ctl).unwrap_err();
    assert!(matches!(e, RewriteError::Shallow(_)), "{e}");
    assert!(e.to_string().contains("shallow"));

    let busy = dir.path().join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("x"), "x").unwrap();
    let e = rewrite_history(&fx.src(), &busy, &plan, &ctl).unwrap_err();
    assert!(matches!(e, RewriteError::OutputNotEmpty(_)), "{e}");
    assert!(busy.join("x").exists());

    let e = rewrite_history(
        &fx.src(),
        &dir.path().join("o3"),
        &RewritePlan::default(),
        &ctl,
    )
    .unwrap_err();
    assert!(matches!(e, RewriteError::EmptyPlan), "{e}");

    // A missing object: delete the loose object of a blob the history needs.
    let blob = run(&fx.src(), &["rev-parse", "main:keep.txt"]);
    let loose = fx
        .src()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    std::fs::remove_file(&loose).unwrap();
    let e = rewrite_history(&fx.src(), &dir.path().join("o4"), &plan, &ctl).unwrap_err();
    assert!(matches!(e, RewriteError::MissingObject { .. }), "{e}");
    assert!(e.to_string().contains(&blob));
    assert!(!dir.path().join("o4").exists(), "partial output removed");

    // Cancelled before it starts: error, output removed.
    let ctl = RewriteControl::default();
    ctl.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let e = rewrite_history(&shallow, &dir.path().join("o5"), &plan, &ctl).unwrap_err();
    assert!(
        matches!(e, RewriteError::Shallow(_)),
        "shallow is refused before any work: {e}"
    );
}

#[test]
fn cancel_stops_and_removes_the_output() {
    let fx = build();
    let ctl = RewriteControl::default();
    ctl.cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    let out = fx.dir.path().join("cancelled");
    let e = rewrite_history(&fx.src(), &out, &plan_for(&SELECTED), &ctl).unwrap_err();
    assert!(matches!(e, RewriteError::Cancelled), "{e}");
    assert!(!out.exists());
}

#[test]
fn packed_and_loose_repositories_clean_the_same() {
    // The fixture is all loose objects; packed, blobs are read in pack order (deltas applied
    // once) instead of through the object database. The result must be identical.
    let fx = build();
    let plan = plan_for(&SELECTED);
    let (loose_out, loose) = clean(&fx, &plan);
    run(&fx.src(), &["gc", "-q", "--aggressive", "--prune=now"]);
    assert!(run(&fx.src(), &["count-objects", "-v"]).starts_with("count: 0\n"));
    let packed_out = fx.dir.path().join("packed.git");
    let packed =
        rewrite_history(&fx.src(), &packed_out, &plan, &RewriteControl::default()).unwrap();
    assert_eq!(map_of(&loose), map_of(&packed));
    assert_eq!(loose.blobs_changed, packed.blobs_changed);
    let refs = |r: &Path| run(r, &["for-each-ref", "--format=%(refname) %(objectname)"]);
    assert_eq!(refs(&loose_out), refs(&packed_out));
    assert!(git_ok(&packed_out, &["fsck", "--full"]).status.success());
}

#[test]
fn signed_tags_over_rewritten_commits_lose_their_signature() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], ALICE, T0);
    write(&r, "a.txt", "clean\n");
    git(&r, &["add", "-A"], ALICE, T0);
    git(&r, &["commit", "-q", "-m", "clean"], ALICE, T0);
    let clean = run(&r, &["rev-parse", "HEAD"]);
    write(&r, "b.txt", &format!("k={STRIPE}\n"));
    git(&r, &["add", "-A"], ALICE, T0);
    git(&r, &["commit", "-q", "-m", "leak"], ALICE, T0);
    let leak = run(&r, &["rev-parse", "HEAD"]);
    // Fake PGP-signed tags (no gpg needed): one over the leaking commit, one over the clean one.
    let tag = |target: &str, name: &str| {
        let raw = format!(
            "object {target}\ntype commit\ntag {name}\ntagger Eve <eve@example.com> {T0} +0000\n\nrelease {name}\n-----BEGIN PGP SIGNATURE-----\n\niQEzBAABCAAdFiEEfake\n-----END PGP SIGNATURE-----\n"
        );
        let p = dir.path().join("tag.raw");
        std::fs::write(&p, raw).unwrap();
        let id = run(&r, &["hash-object", "-t", "tag", "-w", p.to_str().unwrap()]);
        run(&r, &["update-ref", &format!("refs/tags/{name}"), &id]);
        id
    };
    let signed_leak = tag(&leak, "v2");
    let signed_clean = tag(&clean, "v1");
    let out = dir.path().join("o.git");
    let rep = rewrite_history(&r, &out, &plan_for(&[STRIPE]), &RewriteControl::default()).unwrap();
    assert_eq!(rep.signatures_dropped.len(), 1);
    assert_eq!(rep.signatures_dropped[0].kind, "tag");
    assert_eq!(rep.signatures_dropped[0].old, signed_leak);
    assert_eq!(run(&out, &["rev-parse", "refs/tags/v1"]), signed_clean);
    let v2 = run(&out, &["cat-file", "tag", "v2"]);
    assert!(
        !v2.contains("PGP SIGNATURE") && v2.ends_with("release v2"),
        "{v2}"
    );
    assert!(git_ok(&out, &["fsck", "--full", "--strict"])
        .status
        .success());
}

/// A packed history with long delta chains of trees and blobs (one folder's files edited over
/// and over, a secret in one file for a while and in another folder for good): the output pack
/// is written directly, with deltas copied, carried over to changed trees, or resolved where
/// their base held a secret. It must hold exactly the reachable objects, pass `git fsck --full`
/// and `git verify-pack`, and read back as the source with only the secret replaced.
#[test]
fn packed_deltas_are_carried_over_into_a_self_contained_output() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], ALICE, T0);
    let text = |f: usize, v: usize| -> String {
        (0..60)
            .map(|l| {
                format!(
                    "line {l} of file {f}, version {}\n",
                    if l == v % 60 { v } else { 0 }
                )
            })
            .collect()
    };
    for v in 0..80usize {
        let f = v % 12;
        let mut body = text(f, v);
        if f == 3 && (20..60).contains(&v) {
            body.push_str(&format!("token = {STRIPE}\n"));
        }
        write(&r, &format!("d/f{f}.txt"), &body);
        if v == 30 {
            write(&r, "e/keys.env", &format!("NPM={NPM_TOKEN}\n"));
        }
        git(&r, &["add", "-A"], ALICE, T0 + v as i64 * DAY);
        git(
            &r,
            &["commit", "-q", "-m", &format!("v{v}")],
            ALICE,
            T0 + v as i64 * DAY,
        );
        if v == 50 {
            git(
                &r,
                &["tag", "-a", "-m", "release", "r1"],
                ALICE,
                T0 + v as i64 * DAY,
            );
        }
    }
    run(&r, &["repack", "-adfq", "--depth=50", "--window=50"]);
    let before = snapshot(&r);
    let out = dir.path().join("o.git");
    let rep = rewrite_history(
        &r,
        &out,
        &plan_for(&[STRIPE, NPM_TOKEN]),
        &RewriteControl::default(),
    )
    .unwrap();
    assert_eq!(snapshot(&r), before, "the source is untouched");
    assert_eq!(rep.commits_total, 80);
    // The first secret comes in with v27 (d/f3.txt).
    assert_eq!(rep.commits_rewritten, 53, "from the first secret on");
    assert!(rep.trees_changed > 60, "{}", rep.trees_changed);
    assert!(rep.deltas_reused > 100, "{}", rep.deltas_reused);

    // One pack with its index, nothing else; every delta's base is inside it.
    let packs: Vec<_> = std::fs::read_dir(out.join("objects/pack"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(packs.len(), 2, "{packs:?}");
    let idx = packs.iter().find(|p| p.ends_with(".idx")).unwrap();
    let verify = git_ok(&out, &["verify-pack", "-v", &format!("objects/pack/{idx}")]);
    let listing = String::from_utf8_lossy(&verify.stdout);
    assert!(verify.status.success(), "verify-pack: {listing}");
    assert!(listing.contains("chain length = 1"), "{listing}");
    let fsck = git_ok(&out, &["fsck", "--full", "--strict", "--unreachable"]);
    assert!(
        fsck.status.success() && fsck.stdout.is_empty(),
        "fsck: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    // Exactly the reachable objects.
    let reachable: BTreeSet<String> = run(&out, &["rev-list", "--objects", "--all"])
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    let stored: BTreeSet<String> = run(
        &out,
        &[
            "cat-file",
            "--batch-all-objects",
            "--batch-check=%(objectname)",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    assert_eq!(stored, reachable);
    assert_eq!(rep.objects_written as usize, stored.len());
    for id in &stored {
        let body =
            String::from_utf8_lossy(&git_ok(&out, &["cat-file", "-p", id]).stdout).into_owned();
        assert!(!body.contains(STRIPE) && !body.contains(NPM_TOKEN), "{id}");
    }

    // Every version reads back as the source's with the secrets replaced.
    let map = map_of(&rep);
    for (old, new) in &map {
        let files = run(&r, &["ls-tree", "-r", "--name-only", old]);
        assert_eq!(files, run(&out, &["ls-tree", "-r", "--name-only", new]));
        for f in files.lines() {
            let a = run(&r, &["show", &format!("{old}:{f}")])
                .replace(STRIPE, DEFAULT_REPLACEMENT)
                .replace(NPM_TOKEN, DEFAULT_REPLACEMENT);
            assert_eq!(a, run(&out, &["show", &format!("{new}:{f}")]), "{old}:{f}");
        }
    }
    assert_eq!(
        run(&out, &["rev-parse", "r1^{commit}"]),
        map[&run(&r, &["rev-parse", "r1^{commit}"])]
    );
}

/// Several packs (an object in two of them, deltas in each) and loose objects on top: the output
/// still holds every reachable object exactly once and nothing else.
#[test]
fn several_packs_and_loose_objects_make_one_self_contained_pack() {
    let dir = tempfile::tempdir().unwrap();
    let r = dir.path().join("src");
    std::fs::create_dir_all(&r).unwrap();
    git(&r, &["init", "-q", "-b", "main"], ALICE, T0);
    let mut day = 0i64;
    let mut commit = |r: &Path, files: &[(&str, String)]| {
        for (f, body) in files {
            write(r, f, body);
        }
        day += 1;
        git(r, &["add", "-A"], ALICE, T0 + day * DAY);
        git(
            r,
            &["commit", "-q", "-m", &format!("c{day}")],
            ALICE,
            T0 + day * DAY,
        );
    };
    let body = |v: usize, secret: bool| -> String {
        let mut s: String = (0..40).map(|l| format!("row {l} {}\n", l * v)).collect();
        if secret {
            s.push_str(&format!("key={GH_TOKEN}\n"));
        }
        s
    };
    for v in 0..10 {
        commit(
            &r,
            &[
                ("a/x.txt", body(v, v >= 4)),
                ("b/y.txt", body(v + 1, false)),
            ],
        );
    }
    run(&r, &["repack", "-adq"]);
    for v in 10..20 {
        commit(
            &r,
            &[
                ("a/x.txt", body(v, v < 15)),
                ("b/y.txt", body(v + 1, false)),
            ],
        );
    }
    // A second pack that holds some of the first one's objects again.
    run(&r, &["repack", "-dq", "--window=10"]);
    run(&r, &["repack", "-q", "-f"]);
    for v in 20..23 {
        commit(&r, &[("a/x.txt", body(v, v == 21))]);
    }
    let packs = std::fs::read_dir(r.join(".git/objects/pack"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "pack")
        })
        .count();
    assert!(packs >= 2, "{packs} packs");

    let out = dir.path().join("o.git");
    let rep =
        rewrite_history(&r, &out, &plan_for(&[GH_TOKEN]), &RewriteControl::default()).unwrap();
    assert!(rep.commits_rewritten > 0);
    let fsck = git_ok(&out, &["fsck", "--full", "--strict", "--unreachable"]);
    assert!(
        fsck.status.success() && fsck.stdout.is_empty(),
        "fsck: {}{}",
        String::from_utf8_lossy(&fsck.stdout),
        String::from_utf8_lossy(&fsck.stderr)
    );
    let reachable: BTreeSet<String> = run(&out, &["rev-list", "--objects", "--all"])
        .lines()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    // Every entry of the output's one pack is a distinct reachable object.
    let counts = run(&out, &["count-objects", "-v"]);
    assert!(
        counts.contains("count: 0\n") && counts.contains("packs: 1\n"),
        "{counts}"
    );
    assert!(
        counts.contains(&format!("in-pack: {}\n", reachable.len())),
        "{counts} vs {} reachable",
        reachable.len()
    );
    assert_eq!(rep.objects_written as usize, reachable.len());
    assert!(
        !String::from_utf8_lossy(&git_ok(&out, &["log", "-p", "--all"]).stdout).contains(GH_TOKEN)
    );
    let map = map_of(&rep);
    let tip = run(&r, &["rev-parse", "main"]);
    assert_eq!(run(&out, &["rev-parse", "main"]), map[&tip]);
    assert_eq!(
        run(&out, &["show", "main~3:b/y.txt"]),
        run(&r, &["show", "main~3:b/y.txt"])
    );
}
