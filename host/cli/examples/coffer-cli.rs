//! The client alone, for trying commands without building the server:
//! `cargo run -p coffer-cli --example coffer-cli -- kv get secret/foo`.

fn main() {
    std::process::exit(coffer_cli::run(std::env::args().skip(1).collect()));
}
