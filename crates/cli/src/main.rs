//! `natrium`: the project's command-line tool. Today it has one subcommand, `bench`, a load
//! generator that measures any NATS server through the async-nats client, so natrium-server
//! and nats-server are measured the same way.

mod bench;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "natrium", version, about = "Natrium command-line tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a load scenario against a NATS server and report throughput and latency.
    Bench(bench::BenchArgs),
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Bench(args) => match bench::run(args).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("natrium bench: {e}");
                std::process::ExitCode::FAILURE
            }
        },
    }
}
