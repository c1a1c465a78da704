//! `argus remote`: the clap arguments and what each command prints.
//!
//! Output rules: stdout carries the result only (a table, a scan id, or with `--json` one JSON
//! document: the API's body, or for lists the array of items); notes, hints and live progress go
//! to stderr. Exit codes: 0 success, 1 a watched scan that ended failed or cancelled, 2 an error
//! (the server's problem as one line, see [`super::client::RemoteError`]).

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use argus_core::target::{Target, TargetKind};

use super::client::{Action, Client, FindingFilter, Page, RemoteError, ScanFilter};
use super::view;
use super::watch;

const EXAMPLES: &str = "\
Examples:
  export ARGUS_SERVER=https://argus.example.com ARGUS_TOKEN=argus_…
  argus remote scans create --scanner secrets --target https://github.com/acme/app.git
  ID=$(argus remote scans create --scanner noop --target example.com --param findings=3)
  argus remote scans watch $ID                 # live progress; exit 0 when it completes
  argus remote scans list --state running
  argus remote scans get $ID --json | jq .progress
  argus remote findings list --scan $ID --min-severity high
  argus remote artifacts download $ID report.json -o report.json
  argus remote scans stop $ID --force";

// The command's one-line help is the `Remote` variant's doc comment in main.rs.
#[derive(Args, Debug)]
#[command(after_long_help = EXAMPLES)]
pub struct RemoteArgs {
    /// The server's URL (`http://HOST:PORT`, `/api/v1` optional).
    #[arg(
        long,
        global = true,
        env = "ARGUS_SERVER",
        default_value = "http://127.0.0.1:8080",
        value_name = "URL"
    )]
    pub server: String,
    /// An API key (`argus admin apikey create`), sent as `Authorization: Bearer`. Needed when
    /// the server runs with `auth.mode = "apikey"`; never printed.
    #[arg(
        long,
        global = true,
        env = "ARGUS_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Print the API's JSON (one document; for lists, the array of items) instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: RemoteCommand,
}

#[derive(Subcommand, Debug)]
pub enum RemoteCommand {
    /// Scans: list, get, create, start, pause, resume, stop, watch.
    #[command(subcommand)]
    Scans(ScansCommand),
    /// Findings of one scan or of the latest scans.
    #[command(subcommand)]
    Findings(FindingsCommand),
    /// Files a scan produced (tool output, reports): list and download.
    #[command(subcommand)]
    Artifacts(ArtifactsCommand),
}

#[derive(Subcommand, Debug)]
pub enum ScansCommand {
    /// List scans, newest first.
    ///
    /// Example: `argus remote scans list --state running --all`
    List(ScanListArgs),
    /// Show one scan: state, targets, progress, times.
    Get(IdArg),
    /// Create a scan and start it (unless --no-start); prints the new scan's id on stdout.
    ///
    /// Examples:
    ///   argus remote scans create --scanner noop --target example.com --param findings=3
    ///   argus remote scans create --scanner tool:subfinder --target domain:example.com --watch
    ///   argus remote scans create --template 0193… --target example.org
    ///   argus remote scans create --file scan.json   (a `POST /scans` body, or just its config)
    #[command(verbatim_doc_comment)]
    Create(Box<CreateArgs>),
    /// Start a created scan (`created → queued`).
    Start(IdArg),
    /// Pause a queued or running scan: queued tasks wait, running ones finish.
    Pause(IdArg),
    /// Resume a paused scan.
    Resume(IdArg),
    /// Stop (cancel) a queued, running or paused scan.
    Stop(StopArgs),
    /// Follow a scan live until it ends: progress bars on a terminal, plain lines otherwise.
    /// Exit code 0 when it completes, 1 when it fails or is cancelled.
    Watch(IdArg),
}

#[derive(Args, Debug)]
pub struct IdArg {
    /// The scan's id.
    pub id: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// The scan's id.
    pub id: String,
    /// Ask for a forced stop (sent as `?force=true`; what it means is the server's: a server
    /// that refuses it answers with a problem, printed as is).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct Paging {
    /// Items per page (1-1000; the server's default is 100).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// Follow the cursor through every page instead of printing the first one.
    #[arg(long)]
    pub all: bool,
}

#[derive(Args, Debug)]
pub struct ScanListArgs {
    /// Only scans in this state: created, queued, running, paused, completed, failed,
    /// cancelled.
    #[arg(long, value_name = "STATE")]
    pub state: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The scanner to run (`argus scanners` on the server's host, or `GET /api/v1/scanners`,
    /// lists them).
    #[arg(long, value_name = "NAME", conflicts_with = "file")]
    pub scanner: Option<String>,
    /// A target, repeatable. `KIND:VALUE` names its kind (`domain:example.com`,
    /// `url:https://…`); otherwise the kind is guessed among those the scanner accepts.
    #[arg(long = "target", value_name = "TARGET")]
    pub targets: Vec<String>,
    /// A scanner parameter, repeatable; VALUE is read as JSON when it parses (`3`, `true`,
    /// `["a"]`), as a string otherwise.
    #[arg(long = "param", value_name = "KEY=VALUE", conflicts_with = "file")]
    pub params: Vec<String>,
    /// Create the scan from this template (its config; --target replaces its targets).
    #[arg(long, value_name = "ID")]
    pub template: Option<String>,
    /// Display name (default: derived by the server from the scanners and first target).
    #[arg(long)]
    pub name: Option<String>,
    /// Create the scan without starting it (`scans start ID` later).
    #[arg(long)]
    pub no_start: bool,
    /// Read the request from a JSON file (`-` for stdin): a `POST /scans` body
    /// (`{"config": …}`) or just a scan config (`{"scanners": …, "targets": …}`).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Then follow the scan as `scans watch` does (and exit as it does).
    #[arg(long, conflicts_with = "no_start")]
    pub watch: bool,
}

#[derive(Subcommand, Debug)]
pub enum FindingsCommand {
    /// List findings of a scan (--scan), or of the latest scans, oldest finding first per scan.
    ///
    /// Example: `argus remote findings list --scan 0193… --min-severity high --all`
    List(FindingListArgs),
}

#[derive(Args, Debug)]
pub struct FindingListArgs {
    /// Only this scan's findings (default: the latest scans' findings, newest scan first).
    #[arg(long, value_name = "ID")]
    pub scan: Option<String>,
    /// Only this severity: info, low, medium, high, critical.
    #[arg(long, value_name = "S")]
    pub severity: Option<String>,
    /// Only this severity and above.
    #[arg(long, value_name = "S")]
    pub min_severity: Option<String>,
    #[command(flatten)]
    pub paging: Paging,
}

#[derive(Subcommand, Debug)]
pub enum ArtifactsCommand {
    /// List a scan's artifacts.
    List(IdArg),
    /// Download one artifact, streamed to disk (progress bar on a terminal).
    ///
    /// Example: `argus remote artifacts download 0193… task/stdout.log -o out.log`
    Download(DownloadArgs),
}

#[derive(Args, Debug)]
pub struct DownloadArgs {
    /// The scan's id.
    pub scan: String,
    /// The artifact's name, as `artifacts list` shows it (may contain `/`).
    pub name: String,
    /// Where to write it (`-` for stdout; default: the name's last part, in this folder).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Runs one remote command; returns the exit code.
pub async fn run(args: RemoteArgs) -> anyhow::Result<u8> {
    let client = Client::new(&args.server, args.token)?;
    let json = args.json;
    match args.command {
        RemoteCommand::Scans(cmd) => scans(&client, json, cmd).await,
        RemoteCommand::Findings(FindingsCommand::List(a)) => findings(&client, json, a).await,
        RemoteCommand::Artifacts(ArtifactsCommand::List(a)) => {
            let page = client.list_artifacts(&a.id).await?;
            print_list(json, &page.items, |items| {
                view::artifacts_table(&read_all::<view::Artifact>(items))
            })?;
            Ok(0)
        }
        RemoteCommand::Artifacts(ArtifactsCommand::Download(a)) => download(&client, json, a).await,
    }
}

async fn scans(client: &Client, json: bool, cmd: ScansCommand) -> anyhow::Result<u8> {
    match cmd {
        ScansCommand::List(a) => {
            let filter = ScanFilter {
                state: a.state,
                limit: a.paging.limit,
            };
            let items = collect(a.paging.all, |cursor| {
                let (client, filter) = (client, &filter);
                async move { client.list_scans(filter, cursor.as_deref()).await }
            })
            .await?;
            print_list(json, &items, |items| {
                view::scans_table(&read_all::<view::Scan>(items))
            })?;
            Ok(0)
        }
        ScansCommand::Get(a) => {
            let scan = client.scan(&a.id).await?;
            print_doc(json, &scan, || view::scan_detail(&view::Scan::read(&scan)))?;
            Ok(0)
        }
        ScansCommand::Create(a) => create(client, json, *a).await,
        ScansCommand::Start(a) => act(client, json, &a.id, Action::Start, false).await,
        ScansCommand::Pause(a) => act(client, json, &a.id, Action::Pause, false).await,
        ScansCommand::Resume(a) => act(client, json, &a.id, Action::Resume, false).await,
        ScansCommand::Stop(a) => act(client, json, &a.id, Action::Stop, a.force).await,
        ScansCommand::Watch(a) => watch::watch(client, &a.id, json).await,
    }
}

async fn act(
    client: &Client,
    json: bool,
    id: &str,
    action: Action,
    force: bool,
) -> anyhow::Result<u8> {
    let scan = client.act(id, action, force).await?;
    print_doc(json, &scan, || {
        let s = view::Scan::read(&scan);
        format!("scan {}: {}\n", s.id, s.state)
    })?;
    Ok(0)
}

/// Pages of a list: the first one, or every one following `next_cursor`.
async fn collect<F, Fut>(all: bool, mut page: F) -> Result<Vec<Value>, RemoteError>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page, RemoteError>>,
{
    let mut items = Vec::new();
    let mut cursor = None;
    loop {
        let p = page(cursor.take()).await?;
        items.extend(p.items);
        match p.next_cursor {
            Some(c) if all => cursor = Some(c),
            Some(_) => {
                eprintln!("(more on the next pages: --all lists everything)");
                break;
            }
            None => break,
        }
    }
    Ok(items)
}

fn read_all<T: serde::de::DeserializeOwned + Default>(items: &[Value]) -> Vec<T> {
    items
        .iter()
        .map(|v| serde_json::from_value(v.clone()).unwrap_or_default())
        .collect()
}

/// A list: the array of items with `--json`, else the table.
fn print_list(
    json: bool,
    items: &[Value],
    table: impl FnOnce(&[Value]) -> String,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, items)?;
        writeln!(out)?;
    } else {
        out.write_all(table(items).as_bytes())?;
    }
    Ok(())
}

/// One document: the JSON with `--json`, else the text.
fn print_doc(json: bool, doc: &Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, doc)?;
        writeln!(out)?;
    } else {
        out.write_all(text().as_bytes())?;
    }
    Ok(())
}

async fn create(client: &Client, json: bool, a: CreateArgs) -> anyhow::Result<u8> {
    let start = !a.no_start;
    let scan = if let Some(file) = &a.file {
        let mut body = read_request(file)?;
        if let Some(n) = &a.name {
            body["name"] = json!(n);
        }
        if let Some(t) = &a.template {
            body["template_id"] = json!(t);
        }
        if !a.targets.is_empty() {
            let kinds = scanner_kinds(client, &body["config"]).await?;
            body["config"]["targets"] = targets(&a.targets, kinds.as_deref())?;
        }
        // The file may say `start`; --no-start wins, and without it a scan starts.
        if a.no_start || body.get("start").is_none() {
            body["start"] = json!(start);
        }
        client.create_scan(&body).await?
    } else if let (Some(template), None) = (&a.template, &a.scanner) {
        let mut body = json!({ "start": start });
        if let Some(n) = &a.name {
            body["name"] = json!(n);
        }
        if !a.targets.is_empty() {
            body["targets"] = targets(&a.targets, None)?;
        }
        client.scan_from_template(template, &body).await?
    } else {
        let Some(scanner) = &a.scanner else {
            bail!("say what to run: --scanner NAME --target T, --template ID or --file FILE");
        };
        if a.targets.is_empty() {
            bail!("at least one --target is needed");
        }
        let spec = json!({ "name": scanner, "params": params(&a.params)? });
        let kinds = scanner_kinds(client, &json!({ "scanners": [spec.clone()] })).await?;
        let mut body = json!({
            "config": { "scanners": [spec], "targets": targets(&a.targets, kinds.as_deref())? },
            "start": start,
        });
        if let Some(n) = &a.name {
            body["name"] = json!(n);
        }
        if let Some(t) = &a.template {
            body["template_id"] = json!(t);
        }
        client.create_scan(&body).await?
    };
    let s = view::Scan::read(&scan);
    print_doc(json, &scan, || format!("{}\n", s.id))?;
    eprintln!(
        "created scan {} ({}): {}",
        s.id,
        s.name,
        if s.state.is_empty() {
            "?"
        } else {
            s.state.as_str()
        }
    );
    if a.watch {
        return watch::watch(client, &s.id, json).await;
    }
    if start {
        eprintln!("follow it: argus remote scans watch {}", s.id);
    }
    Ok(0)
}

/// A request body from a file: a `POST /scans` body, or a bare config wrapped into one.
fn read_request(file: &Path) -> anyhow::Result<Value> {
    let text = if file == Path::new("-") {
        std::io::read_to_string(std::io::stdin()).context("cannot read stdin")?
    } else {
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
    };
    let v: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    if !v.is_object() {
        bail!("{} must hold a JSON object", file.display());
    }
    Ok(if v.get("config").is_some() {
        v
    } else {
        json!({ "config": v })
    })
}

/// `--param k=v…` as a params object.
fn params(raw: &[String]) -> anyhow::Result<Value> {
    let mut obj = serde_json::Map::new();
    for p in raw {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| anyhow!("--param {p}: expected KEY=VALUE"))?;
        if k.is_empty() {
            bail!("--param {p}: the key is empty");
        }
        let value = serde_json::from_str(v).unwrap_or_else(|_| json!(v));
        obj.insert(k.to_owned(), value);
    }
    Ok(Value::Object(obj))
}

/// The target kinds every scanner of `config` accepts, from the server's registry; `None` when
/// a scanner is unknown to it (the server then names the problem on create).
async fn scanner_kinds(client: &Client, config: &Value) -> anyhow::Result<Option<Vec<TargetKind>>> {
    let wanted: Vec<&str> = config["scanners"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    if wanted.is_empty() {
        return Ok(None);
    }
    let registry = client.scanners().await?;
    let mut kinds: Option<Vec<TargetKind>> = None;
    for name in wanted {
        let Some(info) = registry.items.iter().find(|i| i["name"] == name) else {
            return Ok(None);
        };
        let accepted: Vec<TargetKind> = info["target_kinds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|k| k.as_str().and_then(TargetKind::parse))
                    .collect()
            })
            .unwrap_or_default();
        // A target is kept when any scanner of the scan accepts it.
        kinds.get_or_insert_with(Vec::new).extend(accepted);
    }
    Ok(kinds)
}

/// `--target` values as wire targets: `KIND:VALUE`, or the first kind (most specific first)
/// among `kinds` that the value parses as.
fn targets(raw: &[String], kinds: Option<&[TargetKind]>) -> anyhow::Result<Value> {
    let mut out = Vec::new();
    for t in raw {
        if let Some((k, v)) = t
            .split_once(':')
            .and_then(|(k, v)| TargetKind::parse(k).map(|k| (k, v)))
        {
            out.push(json!({ "kind": k.as_str(), "value": v }));
            continue;
        }
        let guessed =
            Target::guess(t, |k| kinds.is_none_or(|ks| ks.contains(&k))).ok_or_else(|| {
                let accepted = kinds
                    .map(|ks| ks.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", "))
                    .unwrap_or_else(|| "any".into());
                anyhow!(
                    "cannot tell what kind of target '{t}' is (the scanner accepts: {accepted}); \
                     write it as KIND:VALUE, e.g. domain:example.com"
                )
            })?;
        out.push(json!({ "kind": guessed.kind().as_str(), "value": guessed.value() }));
    }
    Ok(Value::Array(out))
}

async fn findings(client: &Client, json: bool, a: FindingListArgs) -> anyhow::Result<u8> {
    let filter = FindingFilter {
        severity: a.severity,
        min_severity: a.min_severity,
        limit: a.paging.limit,
    };
    let items = match &a.scan {
        Some(scan) => {
            collect(a.paging.all, |cursor| {
                let (client, filter) = (client, &filter);
                async move { client.list_findings(scan, filter, cursor.as_deref()).await }
            })
            .await?
        }
        None => latest_findings(client, &filter, a.paging.all).await?,
    };
    print_list(json, &items, |items| {
        view::findings_table(&read_all::<view::Finding>(items))
    })?;
    Ok(0)
}

/// Findings across scans, newest scan first: every one with `all`, else up to one page's worth
/// (`limit`, default 100).
async fn latest_findings(
    client: &Client,
    filter: &FindingFilter,
    all: bool,
) -> anyhow::Result<Vec<Value>> {
    let want = filter.limit.unwrap_or(100) as usize;
    let mut items = Vec::new();
    let mut scan_cursor: Option<String> = None;
    loop {
        let scans = client
            .list_scans(&ScanFilter::default(), scan_cursor.as_deref())
            .await?;
        for s in &scans.items {
            let scan = view::Scan::read(s);
            // The counter says whether there is anything to fetch.
            if scan.progress.findings == 0 {
                continue;
            }
            let mut cursor: Option<String> = None;
            loop {
                let page = client
                    .list_findings(&scan.id, filter, cursor.as_deref())
                    .await?;
                items.extend(page.items);
                if !all && items.len() >= want {
                    items.truncate(want);
                    eprintln!("(more findings may exist: --all lists everything)");
                    return Ok(items);
                }
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
        }
        match scans.next_cursor {
            Some(c) => scan_cursor = Some(c),
            None => return Ok(items),
        }
    }
}

async fn download(client: &Client, json: bool, a: DownloadArgs) -> anyhow::Result<u8> {
    let mut dl = client.download(&a.scan, &a.name).await?;
    let to_stdout = a.output.as_deref() == Some(Path::new("-"));
    if to_stdout {
        let mut out = std::io::stdout().lock();
        dl.copy_to(&mut out, |_| {}).await?;
        out.flush()?;
        return Ok(0);
    }
    let path = match a.output {
        Some(p) => p,
        None => PathBuf::from(a.name.rsplit('/').next().unwrap_or("artifact")),
    };
    // Written beside the destination and renamed at the end, so a broken download never
    // leaves a truncated file under the final name.
    let mut part = path.clone().into_os_string();
    part.push(".part");
    let part = PathBuf::from(part);
    let file = std::fs::File::create(&part)
        .with_context(|| format!("cannot create {}", part.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(dl.size.unwrap_or(0));
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(a.name.clone());
        bar
    } else {
        indicatif::ProgressBar::hidden()
    };
    let copied = dl.copy_to(&mut w, |n| bar.set_position(n)).await;
    let done = copied.map_err(anyhow::Error::from).and_then(|n| {
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&part, &path)?;
        Ok(n)
    });
    bar.finish_and_clear();
    let bytes = match done {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            return Err(e.context(format!("download of {} failed", a.name)));
        }
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "name": a.name, "path": path.display().to_string(), "bytes": bytes })
            )?
        );
    } else {
        eprintln!(
            "saved {} ({}) to {}",
            a.name,
            view::size(bytes),
            path.display()
        );
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_json_values_or_strings() {
        let p = params(&[
            "findings=3".into(),
            "fail=true".into(),
            "name=x=y".into(),
            "list=[\"a\"]".into(),
        ])
        .unwrap();
        assert_eq!(
            p,
            json!({ "findings": 3, "fail": true, "name": "x=y", "list": ["a"] })
        );
        assert!(params(&["novalue".into()]).is_err());
        assert!(params(&["=1".into()]).is_err());
    }

    #[test]
    fn targets_name_their_kind_or_are_guessed_among_the_accepted() {
        let all = targets(
            &[
                "example.com".into(),
                "192.0.2.1".into(),
                "url:https://example.com/".into(),
                "example.com:443".into(),
            ],
            None,
        )
        .unwrap();
        assert_eq!(
            all,
            json!([
                { "kind": "domain", "value": "example.com" },
                { "kind": "ip", "value": "192.0.2.1" },
                { "kind": "url", "value": "https://example.com/" },
                { "kind": "service", "value": "example.com:443" },
            ])
        );
        let only_urls = [TargetKind::Url];
        let e = targets(&["example.com".into()], Some(&only_urls)).unwrap_err();
        assert!(e.to_string().contains("KIND:VALUE"), "{e}");
    }

    #[test]
    fn a_bare_config_file_is_wrapped() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.json");
        std::fs::write(&f, r#"{"scanners":[{"name":"noop"}],"targets":[]}"#).unwrap();
        assert!(read_request(&f).unwrap()["config"]["scanners"].is_array());
        std::fs::write(&f, r#"{"config":{},"start":false}"#).unwrap();
        assert_eq!(read_request(&f).unwrap()["start"], json!(false));
        std::fs::write(&f, "[]").unwrap();
        assert!(read_request(&f).is_err());
    }
}
