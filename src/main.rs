//! The tollgate command line: parse arguments, then hand over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// tollgate: reverse proxy, load balancer and API gateway in one binary.
#[derive(Debug, Parser)]
#[command(name = "tollgate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve traffic with the given configuration until SIGTERM or SIGINT.
    Run {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Check a configuration file; exit 0 when valid, 1 with every error listed.
    Validate {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Show which route a request takes, the policies that run, and the target.
    Explain {
        /// Configuration file.
        #[arg(short, long)]
        config: PathBuf,
        /// Only this listener (default: every listener).
        #[arg(short, long)]
        listener: Option<String>,
        /// Request header, `Name: value`; repeatable.
        #[arg(short = 'H', long = "header")]
        headers: Vec<String>,
        /// Request method, e.g. GET.
        method: String,
        /// URL (`http://host/path?query`) or a path with a Host header.
        url: String,
    },
    /// Ask a running tollgate's admin API for a summary: listeners, routes,
    /// upstreams with their available targets, the last reload.
    Status {
        /// Configuration file whose `admin:` block says where and with which token.
        #[arg(short, long, conflicts_with = "admin")]
        config: Option<PathBuf>,
        /// Admin API address, `ip:port` (default 127.0.0.1:9901).
        #[arg(long)]
        admin: Option<String>,
        /// File holding the admin API's bearer token.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Replace a running tollgate's binary without dropping a connection:
    /// through its admin API, it starts the binary again, hands over its
    /// listening sockets, and drains once the new process serves.
    Upgrade {
        /// Configuration file whose `admin:` block says where and with which token.
        #[arg(short, long, conflicts_with = "admin")]
        config: Option<PathBuf>,
        /// Admin API address, `ip:port` (default 127.0.0.1:9901).
        #[arg(long)]
        admin: Option<String>,
        /// File holding the admin API's bearer token.
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => tollgate::run(&config),
        Command::Validate { config } => tollgate::validate(&config),
        Command::Explain {
            config,
            listener,
            headers,
            method,
            url,
        } => tollgate::explain(&config, listener.as_deref(), &headers, &method, &url),
        Command::Status {
            config,
            admin,
            token_file,
        } => tollgate::status(config.as_deref(), admin.as_deref(), token_file.as_deref()),
        Command::Upgrade {
            config,
            admin,
            token_file,
        } => tollgate::upgrade(config.as_deref(), admin.as_deref(), token_file.as_deref()),
        Command::Version => {
            println!("tollgate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
