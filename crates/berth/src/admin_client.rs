//! Client subcommands that talk to a running server's admin API. Every request is signed
//! with SigV4 (service `berth`), as the aws CLI signs its own: the secret never leaves this
//! process.

use anyhow::{bail, Context};
use serde_json::{json, Value};

#[derive(clap::Args, Debug)]
pub struct Connection {
    /// The server's URL.
    #[arg(long, env = "BERTH_ENDPOINT", default_value = "http://127.0.0.1:5000")]
    endpoint: String,
    /// Access key id (the root key printed at first start, or an IAM user's).
    #[arg(long, env = "AWS_ACCESS_KEY_ID")]
    access_key_id: String,
    /// Secret access key.
    #[arg(long, env = "AWS_SECRET_ACCESS_KEY", hide_env_values = true)]
    secret_access_key: String,
    /// The server's region, which signatures are scoped to [default: $AWS_DEFAULT_REGION,
    /// else $BERTH_REGION, else us-east-1].
    #[arg(long, env = "AWS_REGION")]
    region: Option<String>,
}

impl Connection {
    fn region(&self) -> String {
        self.region
            .clone()
            .filter(|r| !r.is_empty())
            .or_else(|| std::env::var("AWS_DEFAULT_REGION").ok())
            .filter(|r| !r.is_empty())
            .or_else(|| std::env::var("BERTH_REGION").ok())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "us-east-1".to_owned())
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum RepoCommand {
    /// Create a repository.
    Create {
        name: String,
        /// MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION or MUTABLE_WITH_EXCLUSION.
        #[arg(long, default_value = "MUTABLE")]
        tag_mutability: String,
        /// An exclusion filter (wildcard `*`); repeat for more.
        #[arg(long = "filter")]
        filters: Vec<String>,
        #[arg(long)]
        scan_on_push: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// List repositories.
    List {
        #[command(flatten)]
        conn: Connection,
    },
    /// Delete a repository; one that holds images needs --force.
    Delete {
        name: String,
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        conn: Connection,
    },
    /// Change a repository's tag mutability.
    SetMutability {
        name: String,
        tag_mutability: String,
        #[arg(long = "filter")]
        filters: Vec<String>,
        #[command(flatten)]
        conn: Connection,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum IamCommand {
    /// Create an IAM user in the caller's account.
    CreateUser {
        user_name: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// List the account's IAM users.
    ListUsers {
        #[command(flatten)]
        conn: Connection,
    },
    /// Delete a user; its access keys must be deleted first.
    DeleteUser {
        user_name: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Create an access key pair for a user (or `root`); the secret is shown only now.
    CreateAccessKey {
        #[arg(long)]
        user_name: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// List a user's access keys (never their secrets).
    ListAccessKeys {
        #[arg(long)]
        user_name: String,
        #[command(flatten)]
        conn: Connection,
    },
    /// Delete an access key; requests and registry tokens that use it are refused at once.
    DeleteAccessKey {
        /// The access key id to delete (positional: `--access-key-id` names the caller's key).
        #[arg(value_name = "ACCESS_KEY_ID")]
        key: String,
        #[command(flatten)]
        conn: Connection,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AccountCommand {
    /// Create another account (registry) and its root key pair; the secret is shown only now.
    Create {
        #[command(flatten)]
        conn: Connection,
    },
}

pub fn account(cmd: AccountCommand) -> anyhow::Result<()> {
    match cmd {
        AccountCommand::Create { conn } => print(&call(&conn, "accounts/create", json!({}))?),
    }
}

pub fn iam(cmd: IamCommand) -> anyhow::Result<()> {
    use IamCommand as C;
    let (conn, operation, body) = match cmd {
        C::CreateUser { user_name, conn } => {
            (conn, "create-user", json!({ "UserName": user_name }))
        }
        C::ListUsers { conn } => (conn, "list-users", json!({})),
        C::DeleteUser { user_name, conn } => {
            (conn, "delete-user", json!({ "UserName": user_name }))
        }
        C::CreateAccessKey { user_name, conn } => {
            (conn, "create-access-key", json!({ "UserName": user_name }))
        }
        C::ListAccessKeys { user_name, conn } => {
            (conn, "list-access-keys", json!({ "UserName": user_name }))
        }
        C::DeleteAccessKey { key, conn } => {
            (conn, "delete-access-key", json!({ "AccessKeyId": key }))
        }
    };
    print(&call(&conn, &format!("iam/{operation}"), body)?)
}

/// The SigV4 headers (`authorization`, `x-amz-date`) for a POST of `body` to `url`.
fn sign(conn: &Connection, url: &str, body: &[u8]) -> anyhow::Result<Vec<(String, String)>> {
    use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
    let identity = aws_credential_types::Credentials::new(
        &conn.access_key_id,
        &conn.secret_access_key,
        None,
        None,
        "berth-cli",
    )
    .into();
    let region = conn.region();
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region(&region)
        .name("berth")
        .time(std::time::SystemTime::now())
        .settings(SigningSettings::default())
        .build()
        .context("building the request signature")?
        .into();
    let request = SignableRequest::new(
        "POST",
        url,
        [("content-type", "application/json")].into_iter(),
        SignableBody::Bytes(body),
    )
    .context("signing the request")?;
    let (instructions, _) = sign(request, &params)
        .context("signing the request")?
        .into_parts();
    Ok(instructions
        .headers()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect())
}

fn call(conn: &Connection, operation: &str, body: Value) -> anyhow::Result<Value> {
    let url = format!(
        "{}/berth/admin/v1/{operation}",
        conn.endpoint.trim_end_matches('/')
    );
    let body = serde_json::to_vec(&body)?;
    let mut request = ureq::post(&url).set("content-type", "application/json");
    for (name, value) in sign(conn, &url, &body)? {
        request = request.set(&name, &value);
    }
    let response = request.send_bytes(&body);
    match response {
        Ok(r) => r.into_json().context("reading the server's answer"),
        Err(ureq::Error::Status(_, r)) => {
            let v: Value = r.into_json().unwrap_or(Value::Null);
            bail!(
                "{}: {}",
                v["__type"].as_str().unwrap_or("error"),
                v["message"]
                    .as_str()
                    .unwrap_or("the server refused the request")
            )
        }
        Err(e) => Err(e).with_context(|| format!("calling {url}")),
    }
}

pub fn login_password(conn: &Connection) -> anyhow::Result<()> {
    let v = call(conn, "token", json!({}))?;
    let token = v["token"].as_str().context("the server sent no token")?;
    println!("{token}");
    Ok(())
}

fn print(v: &Value) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

pub fn repo(cmd: RepoCommand) -> anyhow::Result<()> {
    match cmd {
        RepoCommand::Create {
            name,
            tag_mutability,
            filters,
            scan_on_push,
            conn,
        } => print(&call(
            &conn,
            "repositories/create",
            json!({ "name": name, "tagMutability": tag_mutability, "filters": filters, "scanOnPush": scan_on_push }),
        )?),
        RepoCommand::List { conn } => print(&call(&conn, "repositories/list", json!({}))?),
        RepoCommand::Delete { name, force, conn } => print(&call(
            &conn,
            "repositories/delete",
            json!({ "name": name, "force": force }),
        )?),
        RepoCommand::SetMutability {
            name,
            tag_mutability,
            filters,
            conn,
        } => print(&call(
            &conn,
            "repositories/set-mutability",
            json!({ "name": name, "tagMutability": tag_mutability, "filters": filters }),
        )?),
    }
}
