//! `notariumd`: serve ledgers over HTTP, or `notariumd audit DATA_DIR`.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    notarium_server::cli::run(notarium_server::cli::Cli::parse())
}
