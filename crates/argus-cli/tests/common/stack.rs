//! A private PostgreSQL database and RabbitMQ queue namespace per test, and `argus` processes
//! of either role on them (distributed mode, as a deployment runs it).
#![allow(dead_code)]

use std::process::Command;

use super::{spawn_argus, Proc};

/// A private database and queue namespace on the shared services.
pub struct Stack {
    pub admin_url: String,
    pub db_name: String,
    pub pg_url: String,
    pub amqp_url: String,
    pub queue: String,
    pub dir: tempfile::TempDir,
}

impl Stack {
    pub fn new() -> Option<Stack> {
        let pg = argus_core::testkit::service_url("ARGUS_TEST_POSTGRES_URL")?;
        let amqp = argus_core::testkit::service_url("ARGUS_TEST_AMQP_URL")?;
        let suffix = uuid::Uuid::now_v7().simple().to_string();
        let db_name = format!("argus_t_{}", &suffix[suffix.len() - 12..]);
        psql(&pg, &format!("CREATE DATABASE {db_name}"));
        let pg_url = with_database(&pg, &db_name);
        Some(Stack {
            admin_url: pg,
            db_name,
            pg_url,
            amqp_url: amqp,
            queue: format!("argus.t.{suffix}"),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// Environment for a process, with the store and broker reached at the given URLs.
    pub fn env(&self, pg_url: &str, amqp_url: &str) -> Vec<(String, String)> {
        let artifacts = self.dir.path().join("artifacts");
        vec![
            ("ARGUS_STORE__URL".into(), pg_url.into()),
            ("ARGUS_QUEUE__URL".into(), amqp_url.into()),
            ("ARGUS_QUEUE__NAME".into(), self.queue.clone()),
            (
                "ARGUS_ARTIFACTS__URL".into(),
                format!("file://{}", artifacts.display()),
            ),
            ("ARGUS_STORE__MAX_CONNECTIONS".into(), "8".into()),
        ]
    }

    pub fn data_dir(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    pub fn api(&self, name: &str, env: &[(String, String)], workers: usize) -> Proc {
        let dir = self.data_dir(name);
        let workers = workers.to_string();
        spawn_argus(
            name,
            &[
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--workers",
                &workers,
                "--data-dir",
                &dir,
            ],
            env,
            true,
        )
    }

    pub fn worker(&self, name: &str, env: &[(String, String)], workers: usize) -> Proc {
        let dir = self.data_dir(name);
        let workers = workers.to_string();
        spawn_argus(
            name,
            &["worker", "--workers", &workers, "--data-dir", &dir],
            env,
            false,
        )
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // Processes are dropped (killed) before the stack by the tests' declaration order.
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args([
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.db_name),
            ])
            .status();
    }
}

pub fn psql(url: &str, sql: &str) {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql is needed to create the test database");
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The same URL pointing at another database.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let head = match base[authority_start..].find('/') {
        Some(i) => &base[..authority_start + i],
        None => base,
    };
    format!("{head}/{db}{query}")
}
