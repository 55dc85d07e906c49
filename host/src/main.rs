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
    let mut flags = match coffer::server::parse_flags(args) {
        Ok(f) => f,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(1);
        }
    };
    flags.physical_memory = physical_memory();
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

/// The machine's physical memory in bytes (`MemTotal` of `/proc/meminfo`), from which
/// the server's default engine memory budget derives; `None` where that is unreadable.
fn physical_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line
        .trim_start_matches("MemTotal:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
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
