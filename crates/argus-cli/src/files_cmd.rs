//! `argus scan yara|clamav|http-scanner <path-or-location>`: a file scanner in-process, on a
//! local folder or file or any location URL the connectors serve, with the verdicts printed
//! through the output layer ([`crate::output::verdicts`]).
//!
//! It runs the platform's own listing and per-object judging
//! (`argus_malware::objects::direct`), objects of a page `--concurrency` at a time, with a
//! progress bar on stderr. As in the rest of direct mode, it acts as the person at the
//! keyboard: cloud locations without `--credential` use their own cloud identity.
//!
//! Exit codes: 0 nothing at or above `--fail-on`, 1 a verdict at or above it (malicious by
//! default), 2 error.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use argus_core::detector::VerdictKind;
use argus_malware::objects::direct::{self, Progress};

use crate::config::Config;
use crate::output::verdicts::{Judged, VerdictReport};
use crate::output::Format;

/// The verdict that makes the exit code 1.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum FailOnVerdict {
    Malicious,
    /// Malicious or suspicious.
    Suspicious,
    /// Never exit 1 because of verdicts.
    None,
}

/// What to do with a malicious object.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum ActionArg {
    None,
    Tag,
    Move,
    Delete,
}

/// Options every file scanner takes.
#[derive(Args, Debug)]
pub struct CommonFileArgs {
    /// What to scan: a local folder or file, or a location URL: file:///path,
    /// s3://bucket/prefix, az://container/prefix, gs://bucket/prefix,
    /// sharepoint://site/drive/path.
    pub target: String,
    /// Named connector credential from the config's [connectors.credentials] (cloud and
    /// SharePoint locations); without one, your own cloud identity is used.
    #[arg(long, value_name = "NAME")]
    pub credential: Option<String>,
    /// Only objects whose key starts with this.
    #[arg(long, value_name = "PREFIX", default_value = "")]
    pub prefix: String,
    /// What to do with a malicious object.
    #[arg(long, value_enum, default_value_t = ActionArg::None)]
    pub action: ActionArg,
    /// Where --action move puts objects, inside the location.
    #[arg(long, value_name = "PREFIX", default_value = "quarantine/")]
    pub quarantine_prefix: String,
    /// Do not descend into zip/tar/gz archives.
    #[arg(long)]
    pub no_archives: bool,
    /// Objects larger than this many bytes are skipped unread.
    #[arg(long, value_name = "BYTES")]
    pub max_size: Option<u64>,
    /// Objects judged at once (default: four per CPU, so reading and hashing the next objects
    /// overlaps the engine's work on the current ones).
    #[arg(long, value_name = "N")]
    pub concurrency: Option<usize>,
    /// Output format on stdout (or in --output).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit 1 when a verdict at or above this exists.
    #[arg(long, value_enum, default_value_t = FailOnVerdict::Malicious)]
    pub fail_on: FailOnVerdict,
}

/// `argus scan yara`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 no malicious object (see --fail-on), 1 some, 2 error.\n\n\
    Examples:\n  argus scan yara ./downloads --rules rules/yara\n  \
    argus scan yara s3://bucket/uploads --rules my.yar --format jsonl\n  \
    argus scan yara /srv/share --rules rules/yara --action move --quarantine-prefix quarantine/"
)]
pub struct YaraArgs {
    #[command(flatten)]
    pub common: CommonFileArgs,
    /// YARA rule file or folder of .yar/.yara files (repeatable); default: the config's
    /// `scanners.yara.rules`.
    #[arg(long, value_name = "FILE_OR_DIR")]
    pub rules: Vec<PathBuf>,
}

/// `argus scan clamav`.
#[derive(Args, Debug)]
#[command(
    after_help = "Exit codes: 0 no malicious object (see --fail-on), 1 some, 2 error.\n\n\
    Examples:\n  argus scan clamav ./downloads --clamd tcp://127.0.0.1:3310\n  \
    argus scan clamav s3://bucket/uploads --clamd unix:/run/clamav/clamd.ctl"
)]
pub struct ClamavArgs {
    #[command(flatten)]
    pub common: CommonFileArgs,
    /// clamd's address: tcp://host:port or unix:/path (default: the config's
    /// `scanners.clamav.address`).
    #[arg(long, value_name = "ADDRESS")]
    pub clamd: Option<String>,
}

/// Runs `scanner` (`yara`, `clamav`) with its engine's extra params and config overrides.
pub async fn run(
    cfg: &Config,
    scanner: &str,
    common: &CommonFileArgs,
    extra_params: Value,
    config_overrides: Value,
) -> anyhow::Result<u8> {
    let mut tables = crate::runtime::scanner_tables(cfg)?;
    if let Value::Object(over) = config_overrides {
        let table = tables
            .entry(scanner.to_owned())
            .or_insert_with(|| json!({}));
        match table {
            Value::Object(t) => t.extend(over),
            other => *other = Value::Object(over),
        }
    }
    let doors = crate::runtime::direct_doors(cfg)?;
    let object_scanner = argus_malware::catalog::object_scanner(scanner, &tables, &doors)
        .with_context(|| format!("building the {scanner} scanner"))?;

    let (location, only) = location_of(&common.target)?;
    let mut params = json!({
        "prefix": common.prefix,
        "action": match common.action {
            ActionArg::None => "none",
            ActionArg::Tag => "tag",
            ActionArg::Move => "move",
            ActionArg::Delete => "delete",
        },
        "quarantine_prefix": common.quarantine_prefix,
        "archives": !common.no_archives,
    });
    if let (Value::Object(p), Value::Object(extra)) = (&mut params, extra_params) {
        p.extend(extra);
        if let Some(c) = &common.credential {
            p.insert("credential".into(), json!(c));
        }
        if let Some(m) = common.max_size {
            p.insert("max_size".into(), json!(m));
        }
        if let Some(key) = &only {
            // One file: the listing is narrowed to its name, and other keys are dropped below.
            p.insert("prefix".into(), json!(key));
        }
    }

    // One file: only its own verdict counts (the listing by its name may find longer names).
    let only_url = only
        .as_ref()
        .map(|key| argus_core::connector::object_url(&location, key));
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed} [{bar:30}] {pos}/{len} objects {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let cancel = CancellationToken::new();
    let on_ctrl_c = {
        let (cancel, bar) = (cancel.clone(), bar.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                bar.set_message("interrupted; stopping…");
                cancel.cancel();
            }
        })
    };
    let work = tempfile::Builder::new()
        .prefix("argus-scan-")
        .tempdir()
        .context("creating a work folder")?;
    let mut out = crate::output::open(common.output.as_deref())?;
    let mut items: Vec<Judged> = Vec::new();
    let mut write_err: Option<std::io::Error> = None;
    let concurrency = common.concurrency.unwrap_or_else(|| {
        4 * std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    });
    let result = direct::scan_location(
        &object_scanner,
        &location,
        &params,
        concurrency,
        work.path(),
        &cancel,
        |p| match p {
            Progress::Listed(n) => bar.inc_length(n),
            Progress::Judged(j) => {
                let (verdict, finding) = *j;
                if only_url.as_ref().is_some_and(|u| verdict.key != u.as_str()) {
                    bar.dec_length(1);
                    return;
                }
                bar.inc(1);
                if verdict.verdict.is_detection() {
                    bar.set_message(format!("{} found", verdict.verdict));
                }
                let item = Judged {
                    scanner: scanner.to_owned(),
                    verdict,
                    finding,
                };
                if write_err.is_none() {
                    if let Err(e) = common.format.stream(&VerdictReport, &mut out, &item) {
                        write_err = Some(e);
                    }
                }
                items.push(item);
            }
        },
    )
    .await;
    on_ctrl_c.abort();
    bar.finish_and_clear();
    if let Some(e) = write_err {
        return Err(e.into());
    }
    if let Err(e) = result {
        if cancel.is_cancelled() {
            anyhow::bail!("interrupted");
        }
        anyhow::bail!("{scanner}: {e}");
    }
    common.format.finish(&VerdictReport, &mut out, &items)?;
    out.flush()?;
    let c = crate::output::verdicts::counts(&items);
    eprintln!(
        "{} object(s): {} malicious, {} suspicious, {} error, {} skipped",
        c.total(),
        c.malicious,
        c.suspicious,
        c.error,
        c.skipped
    );
    let fails = |v: VerdictKind| match common.fail_on {
        FailOnVerdict::None => false,
        FailOnVerdict::Malicious => v == VerdictKind::Malicious,
        FailOnVerdict::Suspicious => v.is_detection(),
    };
    Ok(u8::from(items.iter().any(|i| fails(i.verdict.verdict))))
}

/// The location URL of a path or URL, and the one key to keep when it names a single file.
fn location_of(target: &str) -> anyhow::Result<(url::Url, Option<String>)> {
    if target.contains("://") {
        let url = url::Url::parse(target).with_context(|| format!("{target} is not a URL"))?;
        return Ok((url, None));
    }
    let path = std::fs::canonicalize(target)
        .with_context(|| format!("{target}: no such file or folder"))?;
    if path.is_dir() {
        let url = url::Url::from_directory_path(&path)
            .map_err(|()| anyhow::anyhow!("{} cannot be a file:// URL", path.display()))?;
        return Ok((url, None));
    }
    let parent = path
        .parent()
        .ok_or_else(|| anyhow::anyhow!("{} has no folder", path.display()))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{} is not a UTF-8 file name", path.display()))?;
    let url = url::Url::from_directory_path(parent)
        .map_err(|()| anyhow::anyhow!("{} cannot be a file:// URL", parent.display()))?;
    Ok((url, Some(name.to_owned())))
}
