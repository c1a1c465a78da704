//! Process-liveness helpers shared by the scanner test binaries.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

/// Whether a pid names a live process (zombies count as dead: they run nothing).
pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => false,
        Ok(stat) => {
            let state = stat
                .rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .chars()
                .next();
            !matches!(state, Some('Z') | Some('X'))
        }
    }
}

/// Polls until every pid is dead; false if some is still alive at the deadline.
pub async fn all_gone(pids: &[i32]) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if pids.iter().all(|p| !alive(*p)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits for a fixture to write its pid file; returns the pids in it.
pub async fn read_pids(path: &Path) -> Vec<i32> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(path) {
            return s.split_whitespace().map(|p| p.parse().unwrap()).collect();
        }
        assert!(
            Instant::now() < deadline,
            "fixture never wrote {}",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
