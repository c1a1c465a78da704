//! Runs the test DNS server (`argus_recon::testkit::dns`) until Ctrl-C / SIGINT, for the
//! brute-force benchmark: `sample_zone()` plus `--hits N` names `hostI.example.test`
//! (I = 0..N) so a brute force finds something. Prints `listening on ADDR` once ready and
//! `queries N` when stopped.
//!
//! `cargo run --release -p argus-recon --features testkit --example dns_server -- \
//!     --addr 127.0.0.1:5353 --hits 1000`

use std::net::SocketAddr;

use argus_recon::testkit::dns::{sample_zone, TestDns};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut addr: SocketAddr = "127.0.0.1:0".parse()?;
    let mut hits = 0u32;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs a value")?.parse()?,
            "--hits" => hits = args.next().ok_or("--hits needs a value")?.parse()?,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut zone = sample_zone();
    for i in 0..hits {
        zone = zone.addr(
            &format!("host{i}.example.test"),
            &format!("93.184.{}.{}", 100 + i / 250, 1 + i % 250),
        );
    }
    let server = TestDns::start_on(zone, addr).await?;
    println!("listening on {}", server.addr());
    tokio::signal::ctrl_c().await?;
    println!("queries {}", server.queries());
    Ok(())
}
