//! A real reverse proxy in front of `notariumd`: Debian's nginx, run as a child process with a
//! configuration written for the test (its own prefix directory, logs, temporary paths and
//! port), serving the server under a path prefix the way docs/operations.md tells operators
//! to, plain or with TLS. `.ci/install-proxy.sh` installs it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::ci_plugins::require_tool;

/// A running nginx; killed on drop.
pub struct Nginx {
    child: Child,
    dir: TempDir,
    url: String,
}

/// A port on 127.0.0.1 that was free a moment ago (nginx cannot listen on port 0).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Nginx {
    /// nginx on `127.0.0.1:port` passing `prefix/…` (e.g. `/notarium`) on to `upstream`
    /// (`http://127.0.0.1:PORT`) with the prefix removed, terminating TLS with `tls`
    /// (certificate and key files) when given. `None` when nginx is not installed (the test
    /// then skips, or fails under CI).
    ///
    /// # Panics
    /// When nginx does not start within 30 s.
    pub fn start(
        port: u16,
        upstream: &str,
        prefix: &str,
        tls: Option<(&Path, &Path)>,
    ) -> Option<Nginx> {
        // Debian installs it in /usr/sbin, which a user's PATH may lack.
        let nginx = match Some(PathBuf::from("/usr/sbin/nginx")).filter(|p| p.is_file()) {
            Some(p) => p,
            None => require_tool("nginx", "proxy")?,
        };
        let dir = tempfile::Builder::new()
            .prefix("notarium-e2e-nginx-")
            .tempdir()
            .expect("temporary directory");
        let d = dir.path().display();
        let (listen, ssl) = match tls {
            Some((cert, key)) => (
                format!("127.0.0.1:{port} ssl"),
                format!(
                    "ssl_certificate {};\n    ssl_certificate_key {};",
                    cert.display(),
                    key.display()
                ),
            ),
            None => (format!("127.0.0.1:{port}"), String::new()),
        };
        let upstream = upstream.trim_end_matches('/');
        let config = format!(
            r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log {d}/access.log;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen {listen};
    {ssl}
    location = {prefix} {{ return 301 {prefix}/; }}
    location {prefix}/ {{
      proxy_pass {upstream}/;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      client_max_body_size 2m;
    }}
  }}
}}
"#
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let log = std::fs::File::create(dir.path().join("stderr.log")).expect("log file");
        let mut child = Command::new(nginx)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("nginx starts");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!(
                    "nginx exited ({status}): {}{}",
                    std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default(),
                    std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "nginx did not listen within 30 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        let host = if tls.is_some() {
            "localhost"
        } else {
            "127.0.0.1"
        };
        Some(Nginx {
            child,
            url: format!("{scheme}://{host}:{port}{prefix}"),
            dir,
        })
    }

    /// The URL clients use: scheme, host, port and prefix, without a trailing slash.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// nginx's access log so far (for failure messages).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
