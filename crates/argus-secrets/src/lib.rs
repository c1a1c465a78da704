//! `argus-secrets`: the Argus secret-scanning engine.
//!
//! Finds leaked credentials in the whole history of a git repository (every blob reachable from
//! every ref, optionally unreachable packed blobs too), in the git index (`--staged`), in plain
//! directories and files, and in any reader.
//!
//! Shape of a scan:
//! 1. [`RuleSet`] — rules are data (TOML files under `rules/`, compiled into the binary; more can be
//!    loaded from a folder or from a gitleaks config). [`Engine::new`] compiles them once: one
//!    Aho-Corasick automaton over every rule keyword is the prefilter, and only rules whose keyword
//!    occurs in a blob run their regex on it. Pair rules ([`Requires`]) run only near a match of
//!    another rule; base64 blocks are decoded and scanned one level deep
//!    ([`Engine::set_decode_base64`]).
//! 2. Git history ([`Engine::scan_git`]): commits are walked from the selected refs, each commit's
//!    tree is diffed against its parents to learn which `(path, blob)` pairs it *introduces*, then
//!    every unique blob is scanned exactly once, in parallel, read in pack order so that each
//!    delta is inflated once (`packs`). Only blobs with matches are attributed afterwards to the
//!    commits, paths and line numbers where they appear.
//! 3. Findings ([`Finding`]) group matches by `(rule, secret hash, path)`; the fingerprint is derived
//!    from exactly those three, so it is stable across runs and independent of commit ids.
//!
//! Invariants:
//! - Secret values never leave the engine unless the caller asked for them
//!   ([`ScanPolicy::keep_secret_values`]); even then they are wrapped in [`SecretValue`], whose
//!   `Debug`/`Display` print `[REDACTED]`. Findings otherwise carry a preview (first/last 3
//!   characters) and the SHA-256 of the value.
//! - The library starts processes only in [`remote`] (`git clone`, `git bundle`), and only
//!   through the platform's process door, `argus_scanners::process` (see that module for why).
//! - [`scanner`] is the platform scanner `secrets` (`argus_core::scanner::Scanner`), built by
//!   the factory registered in [`catalog`]; the copy of a repository it keeps for history
//!   cleaning is sealed with AES-256-GCM ([`sealed`]).
//! - Scans are cancellable via [`ScanControl::cancel`]; workers check it between blobs, so a scan
//!   stops within a blob's scan time (milliseconds) of the flag being set.

pub mod catalog;
pub mod credentials;
mod engine;
mod error;
pub mod export;
mod finding;
mod fs_scan;
mod git;
pub mod gitleaks;
pub mod output;
mod packs;
pub mod push;
pub mod remediate;
pub mod remote;
pub mod rewrite;
mod rules;
pub mod scanner;
pub mod sealed;
mod suppress;
mod util;

pub use engine::{Engine, ScanControl, ScanPolicy, ScanProgress, ScanSummary, SkipReason};
pub use error::{Result, SecretsError};
pub use finding::{Confidence, Finding, Location, SecretValue, Severity};
pub use fs_scan::PathScanOptions;
pub use git::{is_git_repository, GitScanOptions, RefSelection};
pub use rules::{Allowlist, AllowlistTarget, Requires, Rule, RuleSet, Validator};
pub use suppress::{load_baseline, load_ignore_file, Suppressions};
