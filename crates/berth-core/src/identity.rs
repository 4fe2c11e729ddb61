//! Opening the registry, the first-start bootstrap, and authentication.

use std::sync::Arc;

use berth_iam::{AccessKeyId, AccountId, SecretAccessKey, SecretSealer, TokenError, TokenSigner};
use berth_meta::accounts::AccessKeyRow;
use berth_meta::Meta;
use berth_store::BlobStore;
use rand::RngCore as _;

use crate::registry::{Registry, RegistryConfig};
use crate::{AuthFailure, Clock, CoreError, Principal};

/// What the first start created, to print once.
#[derive(Debug)]
pub struct Bootstrap {
    pub account: AccountId,
    pub root_access_key_id: AccessKeyId,
    /// Present only when the key pair was created by this start; a secret is shown once.
    pub new_root_secret: Option<SecretAccessKey>,
}

const DEFAULT_ACCOUNT: &str = "default_account";
const ROOT_KEY: &str = "root_access_key_id";
const TOKEN_KEY: &str = "token_signing_key";
/// Set once the keys that versions before 0.1.1 created unseen at every start are removed.
const ROOT_KEY_REPAIR: &str = "root_key_repair_done";
/// Names an environment-given root key that was installed, so that a later start can tell a
/// key deleted through the API from one never installed, and not revive it.
fn installed_setting(key: &AccessKeyId) -> String {
    format!("environment_root_key_installed:{key}")
}

/// Settles the default account's root key at start: created and shown once on the first start,
/// installed from `BERTH_ROOT_ACCESS_KEY_ID`/`SECRET` when given, never duplicated at a restart,
/// and never revived once deleted. Returns the root key id to print and, on a first start, the
/// secret to show.
async fn bootstrap_root_key(
    meta: &Meta,
    sealer: &berth_iam::SecretSealer,
    account: &AccountId,
    from_environment: Option<(AccessKeyId, SecretAccessKey)>,
    now: i64,
) -> Result<(AccessKeyId, Option<SecretAccessKey>), CoreError> {
    let parse = |id: String| {
        id.parse::<AccessKeyId>()
            .map_err(|e| CoreError::Internal(format!("stored root key id: {e}")))
    };
    let stored = meta.setting(ROOT_KEY).await?.map(parse).transpose()?;
    repair_hidden_root_keys(
        meta,
        account,
        stored.as_ref(),
        from_environment.as_ref().map(|(id, _)| id),
    )
    .await?;
    let root_row = |id: &AccessKeyId, secret: &SecretAccessKey| AccessKeyRow {
        id: id.to_string(),
        account_id: account.to_string(),
        user_name: "root".into(),
        secret: sealer.seal(secret),
        created_at: now,
    };
    let result = match (from_environment, stored) {
        (None, None) => {
            let (id, secret) = (AccessKeyId::generate(), SecretAccessKey::generate());
            meta.insert_access_key(&root_row(&id, &secret)).await?;
            let winner = parse(meta.setting_or_insert(ROOT_KEY, id.as_str()).await?)?;
            // Another node of a PostgreSQL deployment bootstrapped first: its key stands, and
            // this one, whose secret would never be shown, goes.
            if winner != id {
                meta.delete_access_key(account.as_str(), id.as_str())
                    .await?;
                (winner, None)
            } else {
                (id, Some(secret))
            }
        }
        (None, Some(stored)) => (stored, None),
        (Some((id, secret)), stored) => {
            match meta.access_key(id.as_str()).await? {
                Some(row) => {
                    // The stored secret stays in force: a changed variable must not silently
                    // look like a rotation that did not happen.
                    let same = sealer
                        .open(&row.secret)
                        .is_ok_and(|stored| stored.matches(secret.expose()));
                    if !same {
                        tracing::warn!(
                            key = %id,
                            "BERTH_ROOT_SECRET_ACCESS_KEY differs from the stored secret of this \
                             key; the stored secret stays valid and the variable is ignored \
                             (rotate keys with `berth iam create-access-key` and \
                             `delete-access-key`)"
                        );
                    }
                    meta.set_setting(&installed_setting(&id), "1").await?;
                }
                None if meta.setting(&installed_setting(&id)).await?.is_some() => {
                    tracing::warn!(
                        key = %id,
                        "BERTH_ROOT_ACCESS_KEY_ID names a root key that was deleted through the \
                         API; it stays deleted. Unset the variables, or give a new key pair"
                    );
                }
                None => {
                    meta.create_access_key(&root_row(&id, &secret), ROOT_KEY_LIMIT)
                        .await
                        .map_err(|e| match e {
                            berth_meta::MetaError::KeyLimitExceeded => {
                                CoreError::Internal(format!(
                                "BERTH_ROOT_ACCESS_KEY_ID {id} cannot be installed: the root user \
                                 already has {ROOT_KEY_LIMIT} access keys; delete one first"
                            ))
                            }
                            other => other.into(),
                        })?;
                    meta.set_setting(&installed_setting(&id), "1").await?;
                }
            }
            let stored = match stored {
                Some(stored) => stored,
                None => parse(meta.setting_or_insert(ROOT_KEY, id.as_str()).await?)?,
            };
            (stored, None)
        }
    };
    Ok(result)
}

fn parse_key_id(id: &str) -> Result<AccessKeyId, CoreError> {
    id.parse()
        .map_err(|e| CoreError::Internal(format!("stored access key id {id:?}: {e}")))
}

/// Root may hold two access keys, as on AWS.
const ROOT_KEY_LIMIT: usize = 2;

/// Versions before this one inserted a new root key, whose secret nobody saw, at every start
/// without `BERTH_ROOT_ACCESS_KEY_ID`. Once, on upgrade, remove the root keys of the default
/// account other than the stored (printed) root key and the environment's, and log each. Only
/// when the stored root key still exists, so root is never left without a working key (an
/// operator who rotated it away keeps every key). Root keys made through the API before this
/// version cannot be told apart from hidden ones and go too; the log names them.
async fn repair_hidden_root_keys(
    meta: &Meta,
    account: &AccountId,
    stored: Option<&AccessKeyId>,
    from_environment: Option<&AccessKeyId>,
) -> Result<(), CoreError> {
    if meta.setting(ROOT_KEY_REPAIR).await?.is_some() {
        return Ok(());
    }
    if let Some(stored) = stored {
        if meta.access_key(stored.as_str()).await?.is_some() {
            let mut keep = vec![stored.to_string()];
            keep.extend(from_environment.map(AccessKeyId::to_string));
            for key in meta.list_access_keys(account.as_str(), "root").await? {
                let id = parse_key_id(&key.id)?;
                if meta.setting(&installed_setting(&id)).await?.is_some() {
                    keep.push(key.id);
                }
            }
            let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
            for removed in meta
                .delete_root_keys_except(account.as_str(), &keep)
                .await?
            {
                tracing::warn!(
                    key = %removed,
                    root = %stored,
                    "removed a root access key that an earlier version created unseen at a \
                     restart (root keeps the printed key; create more with `berth iam \
                     create-access-key --user-name root`)"
                );
            }
        }
    }
    meta.set_setting(ROOT_KEY_REPAIR, "1").await?;
    Ok(())
}

impl Registry {
    /// Opens the metadata database and blob store, creating the default account, the root key
    /// pair and the token signing key on first start. `root_key` (from the environment) is
    /// installed as the root key pair if given.
    pub async fn open(
        config: RegistryConfig,
        clock: Arc<dyn Clock>,
        root_key: Option<(AccessKeyId, SecretAccessKey)>,
    ) -> Result<(Registry, Bootstrap), CoreError> {
        let meta = Meta::connect(&config.metadata_url).await?;
        let store = BlobStore::open(&config.data_dir, config.max_uploads_per_repository).await?;
        let now = clock.now_millis();

        let proposed = AccountId::generate();
        let account: AccountId = meta
            .setting_or_insert(DEFAULT_ACCOUNT, proposed.as_str())
            .await?
            .parse()
            .map_err(|e| CoreError::Internal(format!("stored default account: {e}")))?;
        meta.ensure_account(account.as_str(), now).await?;

        let mut key_bytes = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key_bytes);
        let signing_key = meta
            .setting_or_insert(TOKEN_KEY, &hex_encode(&key_bytes))
            .await?;

        let sealer = berth_iam::SecretSealer::new(&config.master_key);
        let (root_access_key_id, new_root_secret) =
            bootstrap_root_key(&meta, &sealer, &account, root_key, now).await?;

        let registry = Registry {
            meta,
            store,
            clock,
            // The stored value alone cannot sign: the key is bound to the master key, so a
            // copy of the database is not enough to mint docker tokens.
            signer: TokenSigner::new(
                &[config.master_key.as_slice(), signing_key.as_bytes()].concat(),
            ),
            sealer,
            live_keys: LiveKeys::default(),
            pull_log: Default::default(),
            node_id: crate::schedules::new_node_id(),
            config,
            default_account: account.clone(),
        };
        Ok((
            registry,
            Bootstrap {
                account,
                root_access_key_id,
                new_root_secret,
            },
        ))
    }

    /// Authenticates a registry token (the docker login password). The token's key must still
    /// exist, in the creation it was issued for: deleting a key revokes the tokens issued for
    /// it, and creating it again under the same id does not bring them back.
    pub async fn authenticate_token(&self, token: &str) -> Result<Principal, CoreError> {
        let claims = match self.signer.verify(token, self.clock.now()) {
            Ok(claims) => claims,
            Err(TokenError::Expired) => {
                return Err(CoreError::Unauthenticated(AuthFailure::Expired))
            }
            Err(TokenError::Malformed | TokenError::BadSignature) => {
                return Err(CoreError::Unauthenticated(AuthFailure::Invalid))
            }
        };
        let key = match self.live_keys.recently_seen(claims.access_key_id.as_str()) {
            Some(key) => key,
            None => {
                let (id, row) = self.access_key(claims.access_key_id.as_str()).await?;
                if row.account_id != claims.account.as_str() {
                    return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
                }
                self.live_keys.seen(id.as_str(), LiveKey::of(&row))
            }
        };
        if key.creation != claims.key_creation {
            return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
        }
        Ok(Principal::new(
            claims.account,
            claims.access_key_id,
            key.creation,
            key.user_name,
        ))
    }

    pub(crate) async fn access_key(
        &self,
        key_id: &str,
    ) -> Result<(AccessKeyId, AccessKeyRow), CoreError> {
        let invalid = CoreError::Unauthenticated(AuthFailure::Invalid);
        let Ok(id) = key_id.parse::<AccessKeyId>() else {
            return Err(invalid);
        };
        match self.meta.access_key(id.as_str()).await? {
            Some(row) => Ok((id, row)),
            None => Err(invalid),
        }
    }

    fn principal_of(id: AccessKeyId, row: AccessKeyRow) -> Result<Principal, CoreError> {
        let account = row
            .account_id
            .parse()
            .map_err(|e| CoreError::Internal(format!("stored account id: {e}")))?;
        let creation = SecretSealer::creation_stamp(&row.secret);
        Ok(Principal::new(account, id, creation, row.user_name))
    }

    fn open_secret(&self, row: &AccessKeyRow) -> Result<SecretAccessKey, CoreError> {
        self.sealer.open(&row.secret).map_err(|e| {
            CoreError::Internal(format!(
                "access key {}: {e} (is the master key right?)",
                row.id
            ))
        })
    }

    /// The first half of SigV4 authentication, from the headers alone, so that nothing of a
    /// stranger's body is read: the key must exist, the scope must name this registry's region
    /// and `service` (`ecr`, `sts`, `berth`), the date must be within the allowed skew, and
    /// `host` and every `x-amz-*` header must be signed. [`SignedCaller::verify`] finishes with
    /// the signature over the body's hash.
    pub async fn signed_caller(
        &self,
        auth: berth_iam::SigV4Authorization,
        headers: &[(String, String)],
        service: &str,
    ) -> Result<SignedCaller, CoreError> {
        let (id, row) = self.access_key(&auth.access_key_id).await?;
        berth_iam::sigv4::check_envelope(
            &auth,
            headers,
            &self.config.region,
            service,
            self.clock.now(),
        )
        .map_err(CoreError::SignatureRejected)?;
        let secret = self.open_secret(&row)?;
        Ok(SignedCaller {
            auth,
            id,
            row,
            secret,
        })
    }

    /// Issues a 12-hour registry token for the principal: `(token, expires_at_unix_seconds)`.
    pub fn issue_token(&self, principal: &Principal) -> (String, u64) {
        self.signer.issue(
            principal.account(),
            principal.access_key_id(),
            principal.key_creation(),
            self.clock.now(),
        )
    }
}

/// A caller whose SigV4 envelope was accepted and whose key exists; not yet a principal.
pub struct SignedCaller {
    auth: berth_iam::SigV4Authorization,
    id: AccessKeyId,
    row: AccessKeyRow,
    secret: SecretAccessKey,
}

impl SignedCaller {
    /// The access key the request claims, for logs.
    pub fn access_key_id(&self) -> &AccessKeyId {
        &self.id
    }

    /// Checks the signature over the whole request, body hash included.
    pub fn verify(self, request: &berth_iam::SignedRequest<'_>) -> Result<Principal, CoreError> {
        berth_iam::sigv4::verify_signature(&self.auth, request, self.secret.expose())
            .map_err(CoreError::SignatureRejected)?;
        Registry::principal_of(self.id, self.row)
    }
}

/// Access keys confirmed to exist in the last few seconds, so that the pull hot path checks a
/// token's key without a database round trip. Deleting a key evicts it here at once; other
/// nodes of a PostgreSQL deployment stop accepting its tokens within [`LIVE_KEY_TTL`].
/// Monotonic time is right here: this is a cache lifetime, not a rule about wall-clock dates.
#[derive(Default)]
pub(crate) struct LiveKeys {
    seen: std::sync::Mutex<std::collections::HashMap<String, (std::time::Instant, LiveKey)>>,
}

/// What the token path needs to know of a live key.
#[derive(Clone)]
pub(crate) struct LiveKey {
    creation: u64,
    user_name: String,
}

impl LiveKey {
    fn of(row: &AccessKeyRow) -> LiveKey {
        LiveKey {
            creation: SecretSealer::creation_stamp(&row.secret),
            user_name: row.user_name.clone(),
        }
    }
}

pub(crate) const LIVE_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl LiveKeys {
    fn recently_seen(&self, key: &str) -> Option<LiveKey> {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key)
            .filter(|(at, _)| at.elapsed() < LIVE_KEY_TTL)
            .map(|(_, live)| live.clone())
    }

    fn seen(&self, key: &str, live: LiveKey) -> LiveKey {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(key.to_owned(), (std::time::Instant::now(), live.clone()));
        live
    }

    pub(crate) fn forget(&self, key: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.remove(key);
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
