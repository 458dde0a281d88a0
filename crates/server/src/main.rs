//! The `natrium-server` binary: nats-server's command line, then [`natrium_server::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    natrium_server::run::main(std::env::args().skip(1).collect())
}
