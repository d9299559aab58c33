//! `backline user add|list|disable|enable|reset-password`: people, from the host, recorded
//! as `system:cli`. Passwords come from `BACKLINE_USER_PASSWORD`, or are typed at a terminal
//! (twice, not echoed), or are the first line of standard input — never an argument.

use anyhow::{bail, Context};
use backline_app::access::{NewUser, UserChange};
use backline_app::{App, Settings};
use backline_domain::Role;
use backline_projections::UserView;
use clap::Subcommand;
use std::io::{BufRead, IsTerminal};

const ACTOR: &str = "system:cli";
const PASSWORD_ENV: &str = "BACKLINE_USER_PASSWORD";

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a local user (password from BACKLINE_USER_PASSWORD, the terminal or stdin).
    Add {
        username: String,
        /// viewer, operator or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Limit the user to these databases (ids, names or `*` patterns; repeatable).
        #[arg(long = "database", value_name = "ID|NAME|PATTERN")]
        databases: Vec<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// List users (never a password or hash).
    List,
    /// Disable a user: its sessions end and its tokens are revoked at once.
    Disable { user: String },
    /// Enable a disabled user again (its revoked tokens stay revoked).
    Enable { user: String },
    /// Set a new password (from BACKLINE_USER_PASSWORD, the terminal or stdin); the user's
    /// sessions end.
    ResetPassword { user: String },
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| format!("{s:?} is not a role: viewer, operator or admin"))
}

pub async fn run(settings: Settings, command: UserCommand, json: bool) -> anyhow::Result<()> {
    let app = App::open(settings).await?;
    let access = app.access();
    match command {
        UserCommand::Add {
            username,
            role,
            databases,
            display_name,
        } => {
            let password = read_password()?;
            let new = NewUser {
                username: username.clone(),
                display_name,
                password: Some(password),
                role,
                databases: (!databases.is_empty()).then_some(databases),
            };
            let id = access.create_user(ACTOR, &new).await?;
            if json {
                println!("{}", serde_json::json!({ "id": id, "username": username }));
            } else {
                println!("created {username} ({}), id {id}", role.as_str());
            }
        }
        UserCommand::List => {
            let users = access.users().await?;
            for u in &users {
                print_user(u, json)?;
            }
            if !json && users.is_empty() {
                println!("no users yet (the bootstrap admin token still works)");
            }
        }
        UserCommand::Disable { user } => set_disabled(&access, &user, true, json).await?,
        UserCommand::Enable { user } => set_disabled(&access, &user, false, json).await?,
        UserCommand::ResetPassword { user } => {
            let found = access.resolve_user(&user).await?;
            let password = read_password()?;
            access.set_password(ACTOR, &found.id, password).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "id": found.id, "password_set": true })
                );
            } else {
                println!(
                    "new password set for {}; its sessions ended",
                    found.username
                );
            }
        }
    }
    Ok(())
}

async fn set_disabled(
    access: &backline_app::access::Access,
    user: &str,
    disabled: bool,
    json: bool,
) -> anyhow::Result<()> {
    let found = access.resolve_user(user).await?;
    let change = UserChange {
        disabled: Some(disabled),
        ..UserChange::default()
    };
    let after = access.change_user(ACTOR, &found.id, &change).await?;
    if json {
        print_user(&after, true)?;
    } else if disabled {
        println!(
            "disabled {}: its sessions ended and its tokens are revoked",
            after.username
        );
    } else {
        println!("enabled {}", after.username);
    }
    Ok(())
}

fn print_user(u: &UserView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(u)?);
        return Ok(());
    }
    let scope = u
        .databases
        .as_ref()
        .map_or_else(|| "every database".to_string(), |d| d.join(", "));
    println!(
        "{}  {:<20} {:<8} {}{}  last sign-in {}",
        u.id,
        u.username,
        u.role.as_str(),
        scope,
        if u.disabled { "  DISABLED" } else { "" },
        u.last_sign_in_at.as_deref().unwrap_or("never")
    );
    Ok(())
}

/// The password: the environment, else typed twice at a terminal without echo, else the
/// first line of standard input.
fn read_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    if std::io::stdin().is_terminal() {
        let term = console::Term::stderr();
        term.write_str("Password: ")?;
        let first = term.read_secure_line()?;
        term.write_str("Again: ")?;
        let second = term.read_secure_line()?;
        if first != second {
            bail!("the two passwords differ; nothing changed");
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        bail!(
            "no password: set {PASSWORD_ENV}, type it at a terminal, or pipe it on standard input"
        );
    }
    Ok(password)
}
