//! `notariumd`: serve ledgers over HTTP, or `notariumd audit DATA_DIR`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
    notarium_server::cli::run(notarium_server::cli::Cli::parse())
}

/// glibc's malloc gives busy threads arenas of their own (up to eight per core); under
/// 1,000-entry batch loads that grew notariumd's resident set to 133 MiB where two arenas keep
/// it at 84 MiB (`http-bench --fill 200000`, README). glibc reads `MALLOC_ARENA_MAX` only at
/// start, so set it by re-executing once; an operator's own setting is left alone, and if the
/// re-exec is impossible the server simply runs with glibc's default.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::process::CommandExt;
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let Ok(exe) = std::env::current_exe() else {
            return;
        };
        let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
        // `exec` only returns on failure: then carry on in this process.
        let _ = std::process::Command::new(exe)
            .args(args)
            .env("MALLOC_ARENA_MAX", "2")
            .exec();
    }
}
