//! The `berth` command: `serve` runs the registry; the other subcommands are clients of a
//! running server (`login-password`, `repo …`, `iam …`).
//!
//! Configuration for `serve` comes from `berth.toml`, then `BERTH_*` variables, then flags,
//! each overriding the one before; see [`config`].

mod admin_client;
mod config;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod libm_shim;
mod master_key;
mod serve_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "A self-hosted container registry that speaks ECR"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry.
    Serve(config::ServeArgs),
    /// Print a registry token for `docker login --username AWS --password-stdin`.
    LoginPassword(admin_client::Connection),
    /// Manage repositories on a running server.
    #[command(subcommand)]
    Repo(admin_client::RepoCommand),
    /// Manage IAM users and access keys on a running server.
    #[command(subcommand)]
    Iam(admin_client::IamCommand),
    /// Create further accounts (registries) on a running server.
    #[command(subcommand)]
    Account(admin_client::AccountCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::LoginPassword(conn) => admin_client::login_password(&conn),
        Command::Repo(cmd) => admin_client::repo(cmd),
        Command::Iam(cmd) => admin_client::iam(cmd),
        Command::Account(cmd) => admin_client::account(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth: {e:#}");
            ExitCode::FAILURE
        }
    }
}
