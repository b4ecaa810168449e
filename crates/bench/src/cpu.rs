//! CPU time per process, from `/proc/<pid>/stat`: where a lookup's cost goes (load
//! generator, server, PostgreSQL backends) when everything shares one machine.

use std::collections::HashMap;

use serde::Serialize;

/// Clock ticks per second of `utime`/`stime` (`sysconf(_SC_CLK_TCK)`: 100 on Linux).
const TICKS_PER_SECOND: f64 = 100.0;

/// User + system CPU seconds of a process (all its threads), `None` when it is gone.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: the fields start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// CPU seconds of several processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(HashMap<u32, f64>);

impl Snapshot {
    pub fn of(pids: impl IntoIterator<Item = u32>) -> Snapshot {
        Snapshot(
            pids.into_iter()
                .filter_map(|pid| Some((pid, cpu_seconds(pid)?)))
                .collect(),
        )
    }

    /// CPU seconds used since `earlier` (a process new since then counts from zero).
    pub fn since(&self, earlier: &Snapshot) -> f64 {
        self.0
            .iter()
            .map(|(pid, now)| now - earlier.0.get(pid).copied().unwrap_or(0.0))
            .sum()
    }
}

/// Microseconds of CPU per lookup, by process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CpuPerLookup {
    /// `threadline-bench` itself: the HTTP clients, or the raw side's queries (sqlx,
    /// and on SQLite the database engine too).
    pub bench_us: f64,
    /// The `threadline-server` process (on SQLite: with the database engine).
    pub server_us: f64,
    /// PostgreSQL's backends (0 on SQLite).
    pub database_us: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_uses_cpu() {
        let me = std::process::id();
        let before = Snapshot::of([me]);
        let mut x = 0u64;
        let started = std::time::Instant::now();
        while started.elapsed().as_millis() < 60 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        assert!(x != 1);
        let used = Snapshot::of([me]).since(&before);
        assert!(used > 0.0, "{used}");
        assert!(cpu_seconds(u32::MAX).is_none());
    }
}
