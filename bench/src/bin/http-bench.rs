//! Load benchmark of a real `notariumd` (issue 3): single-entry notarize, batch notarize
//! (100 per request), authenticate with proof at a filled ledger; throughput, p50/p99 latency,
//! server peak RSS and start-up time — against a trivial axum handler measured by the same load
//! generator in the same run.
//!
//! `cargo build --release --bin notariumd --bin http-bench && target/release/http-bench
//!  [--seconds 10] [--conns 64] [--fill 1000000] [--database postgres://… [--instances 2]]`
//!
//! With `--database` the servers keep the ledger in that PostgreSQL database (an empty one:
//! a fresh run creates its ledger there) and `--instances N` starts N of them on it, the
//! others from copies of the first one's data directory (docs/postgresql.md); the load
//! generator then spreads requests over them round robin, as a simple load balancer would.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use notarium_bench::{arg, machine, percentile, rss_field};
use notarium_core::Sha256;

const ADMIN: &str = "bench-admin-token-0123456789";

struct Measured {
    requests: u64,
    items: u64,
    secs: f64,
    lat: Vec<Duration>,
}

impl Measured {
    fn row(&self, name: &str, base: Option<f64>) -> String {
        let rps = self.requests as f64 / self.secs;
        let ips = self.items as f64 / self.secs;
        let ratio = base.map_or("-".into(), |b| format!("{:.0}%", 100.0 * rps / b));
        format!(
            "| {name} | {rps:.0} | {ips:.0} | {:.2} | {:.2} | {ratio} |",
            percentile(&self.lat, 50.0).as_secs_f64() * 1e3,
            percentile(&self.lat, 99.0).as_secs_f64() * 1e3
        )
    }
}

/// Runs `conns` tasks for `secs`, each calling `f(task, n)` in a loop; `f` returns items done.
async fn load<F, Fut>(conns: usize, secs: f64, f: F) -> Result<Measured>
where
    F: Fn(u64, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<u64>> + Send,
{
    let f = Arc::new(f);
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let items = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let tasks: Vec<_> = (0..conns as u64)
        .map(|t| {
            let (f, items) = (f.clone(), items.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let s = Instant::now();
                    items.fetch_add(f(t, n).await?, Ordering::Relaxed);
                    lat.push(s.elapsed());
                    n += 1;
                }
                anyhow::Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await??);
    }
    let secs = start.elapsed().as_secs_f64();
    lat.sort();
    Ok(Measured {
        requests: lat.len() as u64,
        items: items.load(Ordering::Relaxed),
        secs,
        lat,
    })
}

fn sha(t: u64, n: u64, salt: u64) -> String {
    Sha256::of(&[t.to_le_bytes(), n.to_le_bytes(), salt.to_le_bytes()].concat()).to_hex()
}

struct Server {
    child: Child,
    url: String,
    started: Duration,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(
    bin: &std::path::Path,
    data: &std::path::Path,
    database: Option<&str>,
) -> Result<Server> {
    use std::io::{BufRead, BufReader};
    let t = Instant::now();
    let mut command = Command::new(bin);
    if let Some(url) = database {
        command.env("NOTARIUM_DATABASE", url);
    }
    let mut child = command
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("NOTARIUM_ADMIN_TOKEN", ADMIN)
        .env("NOTARIUM_RATE_LIMIT_PER_SECOND", "0")
        .env("NOTARIUM_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut lines = BufReader::new(stdout).lines();
    let url = loop {
        let Some(line) = lines.next() else {
            bail!("notariumd exited before it was ready")
        };
        let line = line?;
        if let Some(i) = line.find("ready on ") {
            break line[i + 9..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    let started = t.elapsed();
    std::thread::spawn(move || for _ in lines {});
    Ok(Server {
        child,
        url,
        started,
    })
}

/// Copies the data directory `from` to `to` (a new directory) without its lock file: what an
/// operator copies to a second instance on the same database.
fn copy_data_dir(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let (path, target) = (entry.path(), to.join(entry.file_name()));
        if entry.file_type()?.is_dir() {
            copy_data_dir(&path, &target)?;
        } else if entry.file_name() != "notariumd.lock" {
            std::fs::copy(&path, &target)?;
        }
    }
    Ok(())
}

/// Reads a successful answer whole; an error answer becomes the status and the server's message.
async fn answered(r: reqwest::Response) -> Result<()> {
    let (status, url) = (r.status(), r.url().clone());
    let body = r.bytes().await?;
    if !status.is_success() {
        bail!("{status} from {url}: {}", String::from_utf8_lossy(&body));
    }
    Ok(())
}

/// The ledger API of one of the servers, round robin over requests.
fn pick(apis: &[String], t: u64, n: u64) -> &str {
    &apis[((t + n) % apis.len() as u64) as usize]
}

/// Authenticates random hashes of the fill (`sha(r, i, 3)` for `r < known`) from `conns`
/// connections for `secs`; `salt` varies the sequence between runs.
async fn authenticate_load(
    http: &reqwest::Client,
    apis: &[String],
    key: &str,
    known: u64,
    conns: usize,
    secs: f64,
    salt: u64,
) -> Result<Measured> {
    let (http, apis, key) = (http.clone(), apis.to_vec(), key.to_owned());
    load(conns, secs, move |t, n| {
        let (http, api, key) = (http.clone(), pick(&apis, t, n).to_owned(), key.clone());
        async move {
            let r = (t * 7919 + n * 104_729 + salt) % known;
            let h = sha(r, (n * 31 + t * 17 + salt) % 1000, 3);
            let v: serde_json::Value = http
                .get(format!("{api}/artifacts/{h}"))
                .bearer_auth(&key)
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if v["status"] != "trusted" && v["status"] != "unknown" {
                bail!("unexpected status {}", v["status"]);
            }
            Ok(1)
        }
    })
    .await
}

/// Summarises a route's latency histogram in Prometheus text: the bucket holding the p99 and
/// the share of requests within 1 ms and 2 ms.
fn server_side_latency(metrics: &str, before: &str, route_part: &str) -> Option<String> {
    let now = route_buckets(metrics, route_part)?;
    let then = route_buckets(before, route_part).unwrap_or_default();
    let buckets: Vec<(f64, f64)> = now
        .iter()
        .map(|(b, c)| {
            (
                *b,
                c - then
                    .iter()
                    .find(|(tb, _)| tb == b)
                    .map_or(0.0, |(_, tc)| *tc),
            )
        })
        .collect();
    summarize(&buckets)
}

/// Cumulative bucket counts of one route's latency histogram, summed over methods/statuses.
fn route_buckets(metrics: &str, route_part: &str) -> Option<Vec<(f64, f64)>> {
    let mut buckets: Vec<(f64, f64)> = Vec::new();
    for line in metrics.lines() {
        if !line.starts_with("notarium_http_request_duration_seconds_bucket")
            || !line.contains(route_part)
            || line.contains("history")
        {
            continue;
        }
        let le = line.split("le=\"").nth(1)?.split('"').next()?;
        let le = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().ok()?
        };
        let count: f64 = line.rsplit(' ').next()?.parse().ok()?;
        match buckets.iter_mut().find(|(b, _)| *b == le) {
            Some(slot) => slot.1 += count,
            None => buckets.push((le, count)),
        }
    }
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    Some(buckets)
}

fn summarize(buckets: &[(f64, f64)]) -> Option<String> {
    let total = buckets.last()?.1;
    if total == 0.0 {
        return None;
    }
    let within = |ms: f64| {
        buckets
            .iter()
            .filter(|(b, _)| *b <= ms / 1e3 + 1e-12)
            .map(|(_, c)| *c)
            .fold(0.0, f64::max)
            / total
    };
    let p99 = buckets
        .iter()
        .find(|(_, c)| *c >= 0.99 * total)
        .map(|(b, _)| *b)?;
    Some(format!(
        "{total:.0} requests, p99 ≤ {:.1} ms; {:.1}% within 1 ms, {:.1}% within 2 ms",
        p99 * 1e3,
        100.0 * within(1.0),
        100.0 * within(2.0)
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    notarium_bench::usage(
        "http-bench: a real notariumd (release, durable) under HTTP load, against a trivial axum \
         handler measured in the same run",
        &[
            ("--seconds", "S", "seconds per row (10)"),
            (
                "--conns",
                "N",
                "connections (64; batch rows use at most 16)",
            ),
            (
                "--fill",
                "N",
                "fill the ledger to N entries before the authenticate rows (1000000)",
            ),
            (
                "--data-dir",
                "DIR",
                "keep the ledger in DIR between runs (a temporary directory)",
            ),
            (
                "--notariumd",
                "PATH",
                "the server binary (notariumd next to this one)",
            ),
            (
                "--database",
                "URL",
                "keep the ledger in this PostgreSQL database",
            ),
            (
                "--instances",
                "N",
                "servers on that database, round robin (1)",
            ),
        ],
    );
    let secs: f64 = arg("--seconds", 10.0);
    let conns: usize = arg("--conns", 64);
    let fill: u64 = arg("--fill", 1_000_000);
    let exe = std::env::current_exe()?;
    let default_bin = exe.with_file_name("notariumd");
    let bin: std::path::PathBuf = arg("--notariumd", default_bin);
    let database = Some(arg("--database", String::new())).filter(|s| !s.is_empty());
    let instances: usize = arg("--instances", 1);
    if instances == 0 || (instances > 1 && database.is_none()) {
        bail!("--instances N needs --database (SQLite is one process per data directory)");
    }
    let store = match &database {
        None => "SQLite".to_owned(),
        Some(_) => format!("PostgreSQL, {instances} instance(s) round robin"),
    };
    println!(
        "# http-bench on {}: {conns} connections, {secs} s per row, {store}\n",
        machine()
    );

    // Baseline: a trivial axum handler that parses a JSON body and answers JSON.
    let baseline = {
        use axum::routing::post;
        let app = axum::Router::new().route(
            "/baseline",
            post(|axum::Json(v): axum::Json<serde_json::Value>| async move {
                axum::Json(serde_json::json!({ "ok": true, "echo": v["sha256"] }))
            }),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let l = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(l, app).await.expect("serve");
            });
        });
        format!("http://{addr}/baseline")
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(conns)
        .build()?;
    let base = {
        let (http, url) = (http.clone(), baseline.clone());
        load(conns, secs, move |t, n| {
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http
                    .post(&url)
                    .json(&serde_json::json!({ "sha256": sha(t, n, 0), "name": "x" }))
                    .send()
                    .await?;
                r.error_for_status()?.bytes().await?;
                Ok(1)
            }
        })
        .await?
    };
    let base_rps = base.requests as f64 / base.secs;

    // `--data-dir D` keeps the ledger between runs, so a filled ledger can be measured again.
    let tmp = tempfile::tempdir()?;
    let data_dir: std::path::PathBuf = arg("--data-dir", tmp.path().to_owned());
    let server = start_server(&bin, &data_dir, database.as_deref())?;
    let (others_tmp, mut others) = (tempfile::tempdir()?, Vec::new());
    for i in 1..instances {
        let dir = others_tmp.path().join(format!("instance-{i}"));
        copy_data_dir(&data_dir, &dir)?;
        others.push(start_server(&bin, &dir, database.as_deref())?);
    }
    let key: serde_json::Value = http
        .post(format!("{}/api/v1/ledgers/default/keys", server.url))
        .bearer_auth(ADMIN)
        .json(&serde_json::json!({ "name": "bench", "role": "write" }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let key = key["key"].as_str().context("key")?.to_owned();
    let api = format!("{}/api/v1/ledgers/default", server.url);
    let apis: Vec<String> = std::iter::once(&server)
        .chain(&others)
        .map(|s| format!("{}/api/v1/ledgers/default", s.url))
        .collect();

    let single = {
        let (http, apis, key) = (http.clone(), apis.clone(), key.clone());
        load(conns, secs, move |t, n| {
            let (http, api, key) = (http.clone(), pick(&apis, t, n).to_owned(), key.clone());
            async move {
                let body = serde_json::json!({ "sha256": sha(t, n, 1), "name": format!("app-{t}-{n}.tar.gz") });
                answered(http.post(format!("{api}/entries")).bearer_auth(&key).json(&body).send().await?).await?;
                Ok(1)
            }
        })
        .await?
    };
    let batch_conns = conns.min(16);
    let batch = {
        let (http, apis, key) = (http.clone(), apis.clone(), key.clone());
        load(batch_conns, secs, move |t, n| {
            let (http, api, key) = (http.clone(), pick(&apis, t, n).to_owned(), key.clone());
            async move {
                let entries: Vec<_> = (0..100u64)
                    .map(|i| serde_json::json!({ "sha256": sha(t, n * 100 + i, 2), "name": format!("batch-{t}-{n}-{i}") }))
                    .collect();
                answered(
                    http.post(format!("{api}/entries/batch"))
                        .bearer_auth(&key)
                        .json(&serde_json::json!({ "entries": entries }))
                        .send()
                        .await?,
                )
                .await?;
                Ok(100)
            }
        })
        .await?
    };

    // Fill to `fill` entries through the batch endpoint (1,000 per request).
    let size_now = |http: reqwest::Client, api: String, key: String| async move {
        let v: serde_json::Value = http
            .get(&api)
            .bearer_auth(&key)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        anyhow::Ok(v["size"].as_u64().unwrap_or(0))
    };
    let filled_from = size_now(http.clone(), api.clone(), key.clone()).await?;
    let fill_start = Instant::now();
    if fill > filled_from {
        let todo = fill - filled_from;
        let requests = todo.div_ceil(1000);
        let next = Arc::new(AtomicU64::new(0));
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let (http, apis, key, next) =
                    (http.clone(), apis.clone(), key.clone(), next.clone());
                tokio::spawn(async move {
                    loop {
                        let r = next.fetch_add(1, Ordering::Relaxed);
                        if r >= requests {
                            break;
                        }
                        let api = pick(&apis, r, 0);
                        let n = (todo - r * 1000).min(1000);
                        let entries: Vec<_> = (0..n)
                            .map(|i| serde_json::json!({ "sha256": sha(r, i, 3), "name": format!("fill-{r}-{i}") }))
                            .collect();
                        http.post(format!("{api}/entries/batch"))
                            .bearer_auth(&key)
                            .json(&serde_json::json!({ "entries": entries }))
                            .send()
                            .await?
                            .error_for_status()?;
                    }
                    anyhow::Ok(())
                })
            })
            .collect();
        for w in workers {
            w.await??;
        }
    }
    let fill_secs = fill_start.elapsed().as_secs_f64();
    let size = size_now(http.clone(), api.clone(), key.clone()).await?;
    let fill_rate = (size - filled_from) as f64 / fill_secs;

    let metrics_url = format!("{}/metrics", server.url);
    let before_auth = http.get(&metrics_url).send().await?.text().await?;
    let known = fill.saturating_sub(filled_from).div_ceil(1000).max(1);
    let auth = authenticate_load(&http, &apis, &key, known, conns, secs, 0).await?;
    // Server-side latency of authenticate, from the server's own histogram, per phase.
    let after_auth = http.get(&metrics_url).send().await?.text().await?;
    let server_side = server_side_latency(&after_auth, &before_auth, "/artifacts/{");
    // The same requests from 4 connections: latency without 64-deep queueing on 2 cores.
    let light_conns = 4;
    let auth_light = authenticate_load(&http, &apis, &key, known, light_conns, secs, 13).await?;
    let after_light = http.get(&metrics_url).send().await?.text().await?;
    let server_side_light = server_side_latency(&after_light, &after_auth, "/artifacts/{");
    let pid = server.child.id();
    let peak = rss_field(pid, "VmHWM:").unwrap_or(f64::NAN);
    let rss = rss_field(pid, "VmRSS:").unwrap_or(f64::NAN);
    let first_start = server.started;
    drop(others);
    drop(server);
    let restarted = start_server(&bin, &data_dir, database.as_deref())?;
    let restart = restarted.started;
    let idle_rss = rss_field(restarted.child.id(), "VmRSS:").unwrap_or(f64::NAN);
    drop(restarted);

    println!("| load | requests/s | items/s | p50 ms | p99 ms | vs trivial axum |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("{}", base.row("trivial axum handler (baseline)", None));
    println!(
        "{}",
        single.row(
            &format!("notarize, 1 entry/request, {conns} conns"),
            Some(base_rps)
        )
    );
    println!(
        "{}",
        batch.row(
            &format!("notarize batch, 100 entries/request, {batch_conns} conns"),
            Some(base_rps)
        )
    );
    println!(
        "{}",
        auth.row(
            &format!("authenticate with proof at {size} entries, {conns} conns"),
            Some(base_rps)
        )
    );
    println!(
        "{}",
        auth_light.row(
            &format!("authenticate with proof at {size} entries, {light_conns} conns"),
            Some(base_rps)
        )
    );
    let of_which = if instances > 1 {
        " (first instance)"
    } else {
        ""
    };
    if let Some(l) = server_side {
        println!(
            "\nauthenticate, server-side{of_which} (notariumd's latency histogram), {conns} conns: {l}"
        );
    }
    if let Some(l) = server_side_light {
        println!(
            "authenticate, server-side{of_which} (notariumd's latency histogram), {light_conns} conns: {l}"
        );
    }
    println!();
    println!("fill: {} entries through the batch endpoint in {fill_secs:.1} s ({fill_rate:.0} entries/s, 1,000 per request, 4 conns)", size - filled_from);
    println!("server RSS{of_which}: peak {peak:.0} MiB, {rss:.0} MiB at the end of the load; {idle_rss:.0} MiB after restart");
    println!(
        "start-up to ready: {:.0} ms empty, {:.0} ms at {size} entries",
        first_start.as_secs_f64() * 1e3,
        restart.as_secs_f64() * 1e3
    );
    Ok(())
}
