//! The `wangge` command line: parses the arguments and runs the command (see [`cli`], one module
//! per command). An error is printed on one line as `error: …` and exits with status 1.

mod cli;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    cli::init_logging(&cli.command);
    if let Err(e) = cli.command.run() {
        eprintln!("error: {}", cli::error_text(&e));
        std::process::exit(1);
    }
}
