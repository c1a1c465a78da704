//! [`PgStore`] over TLS against a real PostgreSQL that the test starts itself: a throwaway
//! cluster (`initdb` into a temporary folder, a free loopback port) with `ssl = on`, its server
//! certificate (for `localhost` only) issued by a CA made here with rcgen, and a `pg_hba.conf`
//! that admits TCP clients over TLS only (`hostssl`), so every connection that succeeds is
//! encrypted. Checked: `verify-full` with the CA connects (and migrates the whole schema); with
//! a wrong CA, with no CA (system store only) or under a host name the certificate does not
//! name it fails; `verify-ca` checks the chain (and, through a sqlx bug, the name too);
//! `require` encrypts without a CA but verifies when one is given (as libpq); `disable` is
//! refused by the server; bad file parameters fail before any connection, naming the file.
//!
//! Needs PostgreSQL's server binaries: `ARGUS_TEST_PG_BIN` names their folder (Debian:
//! `/usr/lib/postgresql/<version>/bin`). Without it the test prints why and passes; under
//! `CI=true` it fails instead (`.ci/run` sets it). Run as root, the server commands run as the
//! `postgres` user (`runuser`), since PostgreSQL refuses to run as root.
#![cfg(feature = "postgres")]
#![allow(clippy::disallowed_methods, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use argus_core::testkit::service_url;
use argus_core::CoreError;
use argus_store::postgres::{PgOptions, PgStore};

/// A CA and a server certificate it issued.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(ca_name: &str, names: &[&str]) -> Pki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca.self_signed(&ca_key).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut leaf = rcgen::CertificateParams::new(names).unwrap();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "argus test postgres");
        let leaf = leaf.signed_by(&key, &ca, &ca_key).unwrap();
        Pki {
            ca_pem: ca.pem(),
            cert_pem: leaf.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// `program`, as the `postgres` user when running as root, in the system's temporary folder
/// (the `postgres` user may not be allowed into the test's working directory).
fn server_cmd(root: bool, program: &Path) -> Command {
    let mut c = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    c.current_dir(std::env::temp_dir());
    c
}

fn run(mut c: Command, what: &str) {
    let out = c.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Gives `path` to the `postgres` user (needed when running as root).
fn give_to_postgres(path: &Path) {
    let mut c = Command::new("chown");
    c.arg("postgres:postgres").arg(path);
    run(c, "chown");
}

/// A running throwaway cluster; stopped (immediately) and deleted when dropped.
struct TempPg {
    bin: PathBuf,
    root: bool,
    data: PathBuf,
    port: u16,
    dir: tempfile::TempDir,
}

impl TempPg {
    fn start(bin: &Path, pki: &Pki) -> TempPg {
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("argus-pg-tls.")
            .tempdir()
            .unwrap();
        if root {
            give_to_postgres(dir.path());
        }
        let data = dir.path().join("data");
        let mut initdb = server_cmd(root, &bin.join("initdb"));
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        run(initdb, "initdb");

        // TCP only over TLS; local (socket) connections stay open for pg_ctl.
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n",
        )
        .unwrap();
        for (name, pem) in [("server.crt", &pki.cert_pem), ("server.key", &pki.key_pem)] {
            let p = data.join(name);
            std::fs::write(&p, pem).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            if root {
                give_to_postgres(&p);
            }
        }
        if root {
            give_to_postgres(&data.join("pg_hba.conf"));
        }

        // A free port: bound and released here; nothing else on this machine picks ports from
        // this range on purpose, and a clash would fail the start loudly, not silently.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let server_opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} \
             -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c fsync=off",
            dir.path().display()
        );
        let mut pg_ctl = server_cmd(root, &bin.join("pg_ctl"));
        // -w: returns once the server accepts connections (pg_ctl polls it), or fails.
        pg_ctl
            .arg("-D")
            .arg(&data)
            .args(["-w", "-t", "120", "-l"])
            .arg(dir.path().join("server.log"))
            .arg("-o")
            .arg(server_opts)
            .arg("start");
        let out = pg_ctl.output().unwrap();
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
            panic!(
                "pg_ctl start failed: {}\n{}\nserver log:\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        TempPg {
            bin: bin.to_owned(),
            root,
            data,
            port,
            dir,
        }
    }

    /// The store URL for `host` with the query `query`.
    fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, content).unwrap();
        p
    }
}

impl Drop for TempPg {
    fn drop(&mut self) {
        let mut c = server_cmd(self.root, &self.bin.join("pg_ctl"));
        c.arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"]);
        if let Ok(out) = c.output() {
            if !out.status.success() {
                eprintln!(
                    "pg_ctl stop failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}

fn opts(migrate: bool) -> PgOptions {
    PgOptions {
        max_connections: 2,
        migrate,
    }
}

/// Connects (without migrating) and returns whether this session is encrypted.
async fn connect_ssl(url: &str) -> Result<bool, CoreError> {
    let store = PgStore::connect(url, opts(false)).await?;
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    store.close().await;
    Ok(ssl)
}

async fn refused(url: &str, what: &str) -> String {
    let err = connect_ssl(url)
        .await
        .expect_err(&format!("{what}: connected"));
    assert!(
        matches!(err, CoreError::Unavailable { .. }),
        "{what}: {err}"
    );
    let shown = err.to_string();
    eprintln!("{what}: {shown}");
    shown
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls_with_a_private_ca() {
    let Some(bin) = service_url("ARGUS_TEST_PG_BIN") else {
        return;
    };
    let bin = PathBuf::from(bin);
    assert!(
        bin.join("initdb").is_file(),
        "ARGUS_TEST_PG_BIN={} has no initdb",
        bin.display()
    );
    let pki = Pki::new("Argus PostgreSQL test CA", &["localhost"]);
    let other = Pki::new("Some other CA", &["localhost"]);
    let pg = TempPg::start(&bin, &pki);
    let ca = pg.write("ca.pem", &pki.ca_pem);
    let wrong_ca = pg.write("other-ca.pem", &other.ca_pem);
    let ca = ca.display();
    let wrong_ca = wrong_ca.display();

    // verify-full with the CA: connects, encrypted, and the whole schema migrates over it.
    let full = pg.url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    );
    let store = PgStore::connect(&full, opts(true)).await.unwrap();
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(ssl, "verify-full session is not encrypted");
    store.close().await;

    // Wrong CA, and no CA at all (the system store does not know the private CA).
    let shown = refused(
        &pg.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={wrong_ca}"),
        ),
        "verify-full with a wrong CA",
    )
    .await;
    assert!(shown.contains("UnknownIssuer"), "{shown}");
    let shown = refused(
        &pg.url("localhost", "sslmode=verify-full"),
        "verify-full without a CA",
    )
    .await;
    assert!(shown.contains("UnknownIssuer"), "{shown}");

    // The right CA under a name the certificate does not carry: verify-full refuses.
    let shown = refused(
        &pg.url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={ca}"),
        ),
        "verify-full under the wrong host name",
    )
    .await;
    assert!(shown.contains("not valid for name"), "{shown}");

    // verify-ca checks the chain: the right CA connects, a wrong one is refused.
    assert!(
        connect_ssl(&pg.url("localhost", &format!("sslmode=verify-ca&sslrootcert={ca}")))
            .await
            .unwrap()
    );
    refused(
        &pg.url(
            "localhost",
            &format!("sslmode=verify-ca&sslrootcert={wrong_ca}"),
        ),
        "verify-ca with a wrong CA",
    )
    .await;
    // libpq's verify-ca ignores the host name; sqlx 0.8.6 with rustls >= 0.23.24 does not
    // (sqlx issue 3793: its no-hostname verifier misses rustls' newer error variant), so
    // verify-ca currently fails closed like verify-full. Pinned here so that a sqlx upgrade that
    // fixes it is noticed (then flip this and the note in docs/config.md).
    let shown = refused(
        &pg.url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}")),
        "verify-ca under the wrong host name (sqlx#3793)",
    )
    .await;
    assert!(shown.contains("not valid for name"), "{shown}");

    // require: encrypted without any CA; with sslrootcert it verifies the chain (libpq's rule).
    assert!(connect_ssl(&pg.url("127.0.0.1", "sslmode=require"))
        .await
        .unwrap());
    assert!(
        connect_ssl(&pg.url("localhost", &format!("sslmode=require&sslrootcert={ca}")))
            .await
            .unwrap()
    );
    let shown = refused(
        &pg.url(
            "localhost",
            &format!("sslmode=require&sslrootcert={wrong_ca}"),
        ),
        "require with a wrong CA",
    )
    .await;
    assert!(shown.contains("UnknownIssuer"), "{shown}");

    // The server admits TCP clients over TLS only: plaintext is refused, so the successes
    // above were encrypted because they had to be.
    refused(
        &pg.url("127.0.0.1", "sslmode=disable"),
        "plaintext to a hostssl-only server",
    )
    .await;

    // A missing CA file fails before connecting, naming the file.
    let missing = pg.dir.path().join("missing-ca.pem");
    let err = PgStore::connect(
        &pg.url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", missing.display()),
        ),
        opts(false),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CoreError::Invalid { .. }), "{err}");
    assert!(err.to_string().contains("missing-ca.pem"), "{err}");
}
