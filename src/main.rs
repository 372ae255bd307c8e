//! The `wangge` command line: parses the arguments and runs the command (see [`cli`], one module
//! per command). An error is printed on one line as `error: …` and exits with status 1.

mod cli;

use clap::Parser;

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_env("WANGGE_LOG"))
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = cli::Cli::parse().command.run() {
        eprintln!("error: {}", cli::error_text(&e));
        std::process::exit(1);
    }
}
