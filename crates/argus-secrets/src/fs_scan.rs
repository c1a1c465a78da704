//! Directory, single-file and reader input.
//!
//! Directories are walked with the `ignore` crate (the same engine as ripgrep), honouring
//! `.gitignore`, `.ignore` and global git excludes unless told otherwise; the `.git` folder itself is
//! never descended into (scan it as history with [`Engine::scan_git`]). Files are read whole and
//! scanned in parallel; locations carry no commit.

use crate::engine::{Collector, Engine, RawMatch, ScanControl, ScanPolicy, ScanSummary, Scratch};
use crate::error::{Result, SecretsError};
use crate::finding::Finding;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Options of a directory or file scan.
#[derive(Clone, Debug)]
pub struct PathScanOptions {
    /// Blob policy, suppressions, threads.
    pub policy: ScanPolicy,
    /// Honour `.gitignore`/`.ignore` files (default true).
    pub respect_gitignore: bool,
    /// Include hidden files (default true: `.env` files are where secrets live).
    pub include_hidden: bool,
}

impl Default for PathScanOptions {
    fn default() -> Self {
        PathScanOptions {
            policy: ScanPolicy::default(),
            respect_gitignore: true,
            include_hidden: true,
        }
    }
}

enum FileOutcome {
    Skipped(crate::engine::SkipReason, u64),
    Scanned(u64, crate::engine::MatchStats, Vec<RawMatch>),
}

impl Engine {
    /// Scan a directory tree or a single file. Paths in findings are relative to `root` (for a
    /// single file: its file name).
    pub fn scan_path(
        &self,
        root: &Path,
        opts: &PathScanOptions,
        ctl: &ScanControl,
        sink: &mut dyn FnMut(Finding),
    ) -> Result<ScanSummary> {
        let start = Instant::now();
        let meta = std::fs::metadata(root)
            .map_err(|e| SecretsError::io(format!("reading {}", root.display()), e))?;
        let mut files: Vec<(PathBuf, String)> = Vec::new();
        if meta.is_file() {
            let name = root.file_name().map_or_else(
                || root.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            files.push((root.to_path_buf(), name));
        } else {
            let walker = ignore::WalkBuilder::new(root)
                .hidden(!opts.include_hidden)
                .git_ignore(opts.respect_gitignore)
                .git_global(opts.respect_gitignore)
                .git_exclude(opts.respect_gitignore)
                .ignore(opts.respect_gitignore)
                .parents(opts.respect_gitignore)
                .require_git(false)
                .filter_entry(|e| e.file_name() != ".git")
                .build();
            for entry in walker {
                let Ok(entry) = entry else { continue };
                if !entry.file_type().is_some_and(|t| t.is_file()) {
                    continue;
                }
                let rel = entry.path().strip_prefix(root).unwrap_or(entry.path());
                let rel = rel.to_string_lossy().replace('\\', "/");
                files.push((entry.path().to_path_buf(), rel));
            }
            files.sort_by(|a, b| a.1.cmp(&b.1));
        }
        ctl.progress
            .blobs_total
            .store(files.len() as u64, Ordering::Relaxed);
        let pool = crate::git::thread_pool(opts.policy.threads)?;
        let policy = &opts.policy;
        let results: Vec<(usize, FileOutcome)> = pool.install(|| {
            files
                .par_iter()
                .enumerate()
                .map_init(
                    || (Vec::new(), Scratch::default()),
                    |(buf, scratch), (i, (path, _))| {
                        if ctl.cancel.load(Ordering::Relaxed) {
                            return None;
                        }
                        ctl.progress.blobs_done.fetch_add(1, Ordering::Relaxed);
                        buf.clear();
                        let read = std::fs::File::open(path).and_then(|mut f| f.read_to_end(buf));
                        if read.is_err() {
                            return Some((
                                i,
                                FileOutcome::Skipped(crate::SkipReason::Unreadable, 0),
                            ));
                        }
                        ctl.progress
                            .bytes_done
                            .fetch_add(buf.len() as u64, Ordering::Relaxed);
                        Some((i, self.scan_one(buf, policy, scratch)))
                    },
                )
                .flatten()
                .collect()
        });
        ctl.check()?;
        let mut summary = ScanSummary::default();
        let mut collector = Collector::new(self);
        for (i, outcome) in results {
            match outcome {
                FileOutcome::Skipped(r, b) => summary.skip(r, b),
                FileOutcome::Scanned(bytes, stats, matches) => {
                    summary.blobs_scanned += 1;
                    summary.bytes_scanned += bytes;
                    summary.suppress("inline", stats.inline);
                    summary.suppress("allowlist", stats.allowlist);
                    for m in &matches {
                        collector.add(m, &files[i].1, None, None);
                    }
                }
            }
        }
        collector.finish(&policy.suppressions, &mut summary, sink);
        summary.finish_timing(start);
        Ok(summary)
    }

    /// Scan everything readable from `reader` (stdin, an object from a storage connector) as one
    /// file named `name`.
    pub fn scan_reader(
        &self,
        reader: &mut dyn Read,
        name: &str,
        policy: &ScanPolicy,
        sink: &mut dyn FnMut(Finding),
    ) -> Result<ScanSummary> {
        let start = Instant::now();
        let mut buf = Vec::new();
        reader
            .read_to_end(&mut buf)
            .map_err(|e| SecretsError::io(format!("reading {name}"), e))?;
        let mut summary = ScanSummary::default();
        let mut collector = Collector::new(self);
        match self.scan_one(&buf, policy, &mut Scratch::default()) {
            FileOutcome::Skipped(r, b) => summary.skip(r, b),
            FileOutcome::Scanned(bytes, stats, matches) => {
                summary.blobs_scanned = 1;
                summary.bytes_scanned = bytes;
                summary.suppress("inline", stats.inline);
                summary.suppress("allowlist", stats.allowlist);
                for m in &matches {
                    collector.add(m, name, None, None);
                }
            }
        }
        collector.finish(&policy.suppressions, &mut summary, sink);
        summary.finish_timing(start);
        Ok(summary)
    }

    fn scan_one(&self, data: &[u8], policy: &ScanPolicy, scratch: &mut Scratch) -> FileOutcome {
        if let Some(r) = self.classify(data, policy) {
            return FileOutcome::Skipped(r, data.len() as u64);
        }
        let mut out = Vec::new();
        let stats = self.scan_bytes(data, policy.keep_secret_values, scratch, &mut out);
        FileOutcome::Scanned(data.len() as u64, stats, out)
    }
}
