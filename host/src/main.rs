//! The `coffer` binary: `coffer server ...` runs the server, every other command is the
//! Vault-style client.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("server") => serve(&args[1..]),
        _ => ExitCode::from(clamp(coffer_cli::run(args))),
    }
}

fn clamp(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

fn serve(args: &[String]) -> ExitCode {
    let flags = match coffer::server::parse_flags(args) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    };
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error starting the server: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(coffer::server::run(flags)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error starting the server: {e}");
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("COFFER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
