//! Prometheus metrics in the text exposition format, hand-rolled on atomics: counters of
//! requests by route, method and status; latency histograms by route; ledger sizes; batch
//! sizes and commit (fsync) times per ledger.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.0002, 0.0005, 0.001, 0.002, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0,
];
/// Upper bounds of the batch-size buckets, in entries.
const BATCH_BUCKETS: &[f64] = &[
    1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 4096.0,
];

/// A histogram with fixed buckets; observations are lock-free.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    count: AtomicU64,
    /// Sum in millionths, to stay in integer atomics.
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, v: f64) {
        if let Some(i) = self.bounds.iter().position(|b| v <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1e6) as u64, Ordering::Relaxed);
    }

    fn read(&self) -> Counts {
        Counts {
            bounds: self.bounds,
            buckets: self
                .counts
                .iter()
                .map(|c| c.load(Ordering::Relaxed))
                .collect(),
            count: self.count.load(Ordering::Relaxed),
            sum_micros: self.sum_micros.load(Ordering::Relaxed),
        }
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        self.read().render(out, name, labels);
    }
}

/// A histogram's values at one moment; several add up to one without their labels.
#[derive(Debug)]
struct Counts {
    bounds: &'static [f64],
    buckets: Vec<u64>,
    count: u64,
    sum_micros: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum_micros += other.sum_micros;
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.buckets) {
            cumulative += c;
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count;
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_micros as f64 / 1e6;
        let braced = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braced} {sum}");
        let _ = writeln!(out, "{name}_count{braced} {count}");
    }
}

/// Per-ledger commit statistics.
#[derive(Debug)]
struct CommitStats {
    batch_entries: Histogram,
    fsync_seconds: Histogram,
    batch_seconds: Histogram,
}

/// Route template, method, status.
type RequestKey = (String, &'static str, u16);
/// Picks one histogram of a ledger's commit statistics.
type Pick = fn(&CommitStats) -> &Histogram;

/// All metrics of one server.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: RwLock<BTreeMap<RequestKey, Arc<AtomicU64>>>,
    latency: RwLock<BTreeMap<String, Arc<Histogram>>>,
    commits: RwLock<BTreeMap<String, Arc<CommitStats>>>,
}

fn get_or_insert<K: Ord + Clone, V>(
    map: &RwLock<BTreeMap<K, Arc<V>>>,
    key: &K,
    make: impl FnOnce() -> V,
) -> Arc<V> {
    if let Some(v) = map.read().unwrap_or_else(|e| e.into_inner()).get(key) {
        return v.clone();
    }
    map.write()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key.clone())
        .or_insert_with(|| Arc::new(make()))
        .clone()
}

impl Metrics {
    /// Records one answered request. `route` is the matched route template, never the raw
    /// path, so that label values stay few.
    pub fn request(&self, route: &str, method: &'static str, status: u16, seconds: f64) {
        get_or_insert(&self.requests, &(route.to_owned(), method, status), || {
            AtomicU64::new(0)
        })
        .fetch_add(1, Ordering::Relaxed);
        get_or_insert(&self.latency, &route.to_owned(), || {
            Histogram::new(LATENCY_BUCKETS)
        })
        .observe(seconds);
    }

    /// Records one committed batch of `ledger`.
    pub fn commit(&self, ledger: &str, info: notarium_ledger::CommitInfo) {
        let s = get_or_insert(&self.commits, &ledger.to_owned(), || CommitStats {
            batch_entries: Histogram::new(BATCH_BUCKETS),
            fsync_seconds: Histogram::new(LATENCY_BUCKETS),
            batch_seconds: Histogram::new(LATENCY_BUCKETS),
        });
        s.batch_entries.observe(info.entries as f64);
        s.fsync_seconds.observe(info.commit_seconds);
        s.batch_seconds.observe(info.batch_seconds);
    }

    /// The exposition text, with the current size of each ledger. With `ledger_names` false,
    /// no series names a ledger: sizes and commit statistics are summed over every ledger, and
    /// `notarium_ledgers` counts them (ledger names can name customers or projects, and the
    /// endpoint is often reachable by more people than the ledgers are).
    pub fn render(&self, ledger_sizes: &[(String, u64)], ledger_names: bool) -> String {
        let mut out = String::with_capacity(8192);
        out.push_str("# HELP notarium_http_requests_total HTTP requests answered, by route, method and status.\n");
        out.push_str("# TYPE notarium_http_requests_total counter\n");
        for ((route, method, status), n) in self
            .requests
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "notarium_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {}",
                escape(route),
                n.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP notarium_http_request_duration_seconds Time to answer a request, by route.\n",
        );
        out.push_str("# TYPE notarium_http_request_duration_seconds histogram\n");
        for (route, h) in self
            .latency
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            h.render(
                &mut out,
                "notarium_http_request_duration_seconds",
                &format!("route=\"{}\"", escape(route)),
            );
        }
        out.push_str("# HELP notarium_ledgers Ledgers on this server.\n");
        out.push_str("# TYPE notarium_ledgers gauge\n");
        let _ = writeln!(out, "notarium_ledgers {}", ledger_sizes.len());
        out.push_str("# HELP notarium_ledger_entries Entries in each ledger (its tree size).\n");
        out.push_str("# TYPE notarium_ledger_entries gauge\n");
        if ledger_names {
            for (name, size) in ledger_sizes {
                let _ = writeln!(
                    out,
                    "notarium_ledger_entries{{ledger=\"{}\"}} {size}",
                    escape(name)
                );
            }
        } else {
            let total: u64 = ledger_sizes.iter().map(|(_, s)| s).sum();
            let _ = writeln!(out, "notarium_ledger_entries {total}");
        }
        let commits = self.commits.read().unwrap_or_else(|e| e.into_inner());
        let sections: [(&str, &str, Pick); 3] = [
            (
                "notarium_commit_batch_entries",
                "Entries per committed batch (group commit).",
                |s| &s.batch_entries,
            ),
            (
                "notarium_commit_fsync_seconds",
                "Time in COMMIT, i.e. the fsync, per batch.",
                |s| &s.fsync_seconds,
            ),
            (
                "notarium_commit_batch_seconds",
                "Time to write and commit one batch.",
                |s| &s.batch_seconds,
            ),
        ];
        for (name, help, pick) in sections {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            if ledger_names {
                for (ledger, s) in commits.iter() {
                    pick(s).render(&mut out, name, &format!("ledger=\"{}\"", escape(ledger)));
                }
            } else if let Some(mut sum) = commits.values().next().map(|s| pick(s).read()) {
                for s in commits.values().skip(1) {
                    sum.add(&pick(s).read());
                }
                sum.render(&mut out, name, "");
            }
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.request("/api/v1/ledgers/{ledger}", "GET", 200, 0.002);
        m.request("/api/v1/ledgers/{ledger}", "GET", 200, 0.02);
        m.commit(
            "default",
            notarium_ledger::CommitInfo {
                entries: 3,
                size: 3,
                commit_seconds: 0.001,
                index_seconds: 0.0,
                rows_seconds: 0.0,
                batch_seconds: 0.002,
            },
        );
        m.commit(
            "secret-customer",
            notarium_ledger::CommitInfo {
                entries: 2,
                size: 2,
                commit_seconds: 0.001,
                index_seconds: 0.0,
                rows_seconds: 0.0,
                batch_seconds: 0.002,
            },
        );
        let sizes = [("default".into(), 3), ("secret-customer".into(), 2)];
        let hidden = m.render(&sizes, false);
        assert!(!hidden.contains("secret-customer") && !hidden.contains("default"));
        assert!(hidden.contains("notarium_ledgers 2\n"));
        assert!(hidden.contains("notarium_ledger_entries 5\n"));
        assert!(hidden.contains("notarium_commit_batch_entries_count 2\n"));
        assert!(hidden.contains("notarium_commit_batch_entries_bucket{le=\"2\"} 1\n"));
        assert!(hidden.contains("notarium_commit_batch_entries_bucket{le=\"4\"} 2\n"));
        let text = m.render(&sizes, true);
        assert!(text.contains(
            "notarium_http_requests_total{route=\"/api/v1/ledgers/{ledger}\",method=\"GET\",status=\"200\"} 2"
        ));
        assert!(text.contains(
            "notarium_http_request_duration_seconds_bucket{route=\"/api/v1/ledgers/{ledger}\",le=\"0.0025\"} 1"
        ));
        assert!(text.contains("notarium_ledger_entries{ledger=\"default\"} 3"));
        assert!(
            text.contains("notarium_commit_batch_entries_bucket{ledger=\"default\",le=\"4\"} 1")
        );
    }
}
