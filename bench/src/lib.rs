//! Shared helpers for Notarium's benchmarks: argument parsing, percentiles, tables, RSS.

use std::time::Duration;

/// `--name value` from the command line, parsed, or `default`.
///
/// # Panics
/// When the value does not parse: a benchmark's usage error.
pub fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("bad value for {name}: {v}"))
        })
        .unwrap_or(default)
}

/// Checks the command line against a benchmark's flags before anything runs: `--help` prints
/// them and exits 0; an unknown flag or a missing value is a usage error (exit 2), so that a
/// typo does not silently run a long benchmark with the defaults. `flags` are `(flag, value
/// name, what it sets)`; an empty value name is a bare flag.
pub fn usage(about: &str, flags: &[(&str, &str, &str)]) {
    let print = |to_err: bool| {
        let exe = std::env::args().next().unwrap_or_default();
        let exe = std::path::Path::new(&exe)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut text = format!("{about}\n\nusage: {exe} [FLAGS]\n");
        for (flag, value, what) in flags {
            let left = if value.is_empty() {
                (*flag).to_owned()
            } else {
                format!("{flag} {value}")
            };
            text.push_str(&format!("  {left:<24} {what}\n"));
        }
        if to_err {
            eprint!("{text}");
        } else {
            print!("{text}");
        }
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "--help" || a == "-h" {
            print(false);
            std::process::exit(0);
        }
        match flags.iter().find(|(f, _, _)| *f == a) {
            Some((_, value, _)) if !value.is_empty() => {
                if i + 1 >= args.len() {
                    eprintln!("error: {a} needs a value\n");
                    print(true);
                    std::process::exit(2);
                }
                i += 2;
            }
            Some(_) => i += 1,
            None => {
                eprintln!("error: unknown argument {a:?}\n");
                print(true);
                std::process::exit(2);
            }
        }
    }
}

/// Whether a bare `--flag` was given.
pub fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

/// The `p`-th percentile (0–100) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Microseconds with one decimal.
pub fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
pub fn peak_rss_mib() -> Option<f64> {
    rss_field(std::process::id(), "VmHWM:")
}

/// A field of `/proc/PID/status` in MiB.
pub fn rss_field(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Machine description for the report header.
pub fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    format!("{cpus} CPUs ({model})")
}
