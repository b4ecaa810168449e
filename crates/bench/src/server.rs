//! The real `threadline-server` binary as a child process, and its memory as Linux reports
//! it (`/proc/<pid>/status`).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// A running server; killed when dropped.
pub struct ServerProcess {
    child: Child,
    pub base_url: String,
}

impl ServerProcess {
    /// Starts `bin serve` on a free loopback port with `data_dir` (and PostgreSQL at
    /// `database_url`, when given), its log (the default filter) in `log`. The environment's
    /// own THREADLINE_* and DATABASE_URL are not passed on.
    pub fn start(
        bin: &Path,
        data_dir: &Path,
        database_url: Option<&str>,
        log: &Path,
    ) -> Result<ServerProcess, String> {
        let mut cmd = Command::new(bin);
        for (name, _) in std::env::vars() {
            if name.starts_with("THREADLINE_") || name == "DATABASE_URL" || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        if let Some(url) = database_url {
            cmd.env("DATABASE_URL", url);
        }
        let log_file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create the server log {}: {e}", log.display()))?;
        // The benchmarks drive one token from many clients: the per-token rate limit is
        // lifted so that they measure the server's work, not the limiter's pauses.
        cmd.args(["serve", "--listen", "127.0.0.1:0"])
            .args([
                "--rate-limit-per-second",
                "1000000",
                "--rate-limit-burst",
                "1000000",
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut server = ServerProcess {
            child,
            base_url: String::new(),
        };
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        server.base_url = url.to_string();
                        return Ok(server);
                    }
                }
                Err(_) => {
                    return Err(format!(
                        "{} printed no `listening on` line (exit: {:?}); see {}",
                        bin.display(),
                        server.child.try_wait().ok().flatten(),
                        log.display()
                    ))
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status` in kB (`VmRSS`, `VmHWM`).
pub fn status_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// Samples a process's resident memory every few milliseconds until stopped; reports the
/// highest sample. (`VmHWM` only ever grows, so it cannot tell phases apart.)
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    peak_kb: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    pub fn start(pid: u32) -> RssSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_kb = Arc::new(AtomicU64::new(status_kb(pid, "VmRSS").unwrap_or(0)));
        let thread = {
            let (stop, peak_kb) = (stop.clone(), peak_kb.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(kb) = status_kb(pid, "VmRSS") {
                        peak_kb.fetch_max(kb, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        RssSampler {
            stop,
            peak_kb,
            thread: Some(thread),
        }
    }

    /// Stops sampling; the peak in MiB.
    pub fn finish(mut self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak_kb.load(Ordering::Relaxed) as f64 / 1024.0
    }
}

/// The release server binary next to this one (`target/release/threadline-server` when
/// this is `target/release/threadline-bench`).
pub fn sibling_server_bin() -> Option<PathBuf> {
    let me = std::env::current_exe().ok()?;
    let bin = me.parent()?.join("threadline-server");
    bin.exists().then_some(bin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process_memory() {
        let pid = std::process::id();
        let rss = status_kb(pid, "VmRSS").expect("VmRSS on Linux");
        assert!(rss > 100, "{rss} kB");
        assert!(status_kb(pid, "VmHWM").unwrap() >= rss);
        assert_eq!(status_kb(pid, "NoSuchField"), None);
        let sampler = RssSampler::start(pid);
        std::thread::sleep(Duration::from_millis(20));
        assert!(sampler.finish() * 1024.0 >= rss as f64 * 0.5);
    }
}
