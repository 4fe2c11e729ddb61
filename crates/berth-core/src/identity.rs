//! Opening the registry, the first-start bootstrap, and authentication.

use std::sync::Arc;

use berth_iam::{AccessKeyId, AccountId, SecretAccessKey, TokenError, TokenSigner};
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
        let store = BlobStore::open(&config.data_dir).await?;
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

        let from_environment = root_key.is_some();
        let (key_id, secret) = match root_key {
            Some(pair) => pair,
            None => (AccessKeyId::generate(), SecretAccessKey::generate()),
        };
        let stored_root = meta.setting_or_insert(ROOT_KEY, key_id.as_str()).await?;
        let sealer = berth_iam::SecretSealer::new(&config.master_key);
        let existing = meta.access_key(key_id.as_str()).await?;
        if let (true, Some(row)) = (from_environment, &existing) {
            // The stored secret stays in force: a changed variable must not silently look like
            // a rotation that did not happen.
            let same = sealer
                .open(&row.secret)
                .is_ok_and(|stored| stored.matches(secret.expose()));
            if !same {
                tracing::warn!(
                    key = %key_id,
                    "BERTH_ROOT_SECRET_ACCESS_KEY differs from the stored secret of this key; \
                     the stored secret stays valid and the variable is ignored (rotate keys \
                     with `berth iam create-access-key` and `delete-access-key`)"
                );
            }
        }
        let new_root_secret = if existing.is_none() {
            meta.insert_access_key(&AccessKeyRow {
                id: key_id.to_string(),
                account_id: account.to_string(),
                user_name: "root".into(),
                secret: sealer.seal(&secret),
                created_at: now,
            })
            .await?;
            (stored_root == key_id.as_str()).then_some(secret)
        } else {
            None
        };
        let root_access_key_id = stored_root
            .parse()
            .map_err(|e| CoreError::Internal(format!("stored root key id: {e}")))?;

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
    /// exist: deleting a key revokes the tokens issued for it.
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
        if !self.live_keys.recently_seen(claims.access_key_id.as_str()) {
            let (id, row) = self.access_key(claims.access_key_id.as_str()).await?;
            if row.account_id != claims.account.as_str() {
                return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
            }
            self.live_keys.seen(id.as_str());
        }
        Ok(Principal::new(
            claims.account,
            claims.access_key_id,
            String::new(),
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
        Ok(Principal::new(account, id, row.user_name))
    }

    fn open_secret(&self, row: &AccessKeyRow) -> Result<SecretAccessKey, CoreError> {
        self.sealer.open(&row.secret).map_err(|e| {
            CoreError::Internal(format!(
                "access key {}: {e} (is the master key right?)",
                row.id
            ))
        })
    }

    /// Authenticates an access key pair, as the admin API receives it.
    pub async fn authenticate_key(
        &self,
        key_id: &str,
        secret: &str,
    ) -> Result<Principal, CoreError> {
        let (id, row) = self.access_key(key_id).await?;
        if !self.open_secret(&row)?.matches(secret) {
            return Err(CoreError::Unauthenticated(AuthFailure::Invalid));
        }
        Self::principal_of(id, row)
    }

    /// Authenticates a SigV4-signed request for `service` (`ecr` or `sts`): the key must exist,
    /// the scope must name this registry's region and the service, the date must be within
    /// the allowed skew, and the signature must match.
    pub async fn authenticate_signed(
        &self,
        auth: &berth_iam::SigV4Authorization,
        request: &berth_iam::SignedRequest<'_>,
        service: &str,
    ) -> Result<Principal, CoreError> {
        let (id, row) = self.access_key(&auth.access_key_id).await?;
        let secret = self.open_secret(&row)?;
        berth_iam::sigv4::verify(
            auth,
            request,
            secret.expose(),
            &self.config.region,
            service,
            self.clock.now(),
        )
        .map_err(CoreError::SignatureRejected)?;
        Self::principal_of(id, row)
    }

    /// Issues a 12-hour registry token for the principal: `(token, expires_at_unix_seconds)`.
    pub fn issue_token(&self, principal: &Principal) -> (String, u64) {
        self.signer.issue(
            principal.account(),
            principal.access_key_id(),
            self.clock.now(),
        )
    }
}

/// Access keys confirmed to exist in the last few seconds, so that the pull hot path checks a
/// token's key without a database round trip. Deleting a key evicts it here at once; other
/// nodes of a PostgreSQL deployment stop accepting its tokens within [`LIVE_KEY_TTL`].
/// Monotonic time is right here: this is a cache lifetime, not a rule about wall-clock dates.
#[derive(Default)]
pub(crate) struct LiveKeys {
    seen: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

pub(crate) const LIVE_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(5);

impl LiveKeys {
    fn recently_seen(&self, key: &str) -> bool {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.get(key).is_some_and(|at| at.elapsed() < LIVE_KEY_TTL)
    }

    fn seen(&self, key: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.insert(key.to_owned(), std::time::Instant::now());
    }

    pub(crate) fn forget(&self, key: &str) {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.remove(key);
    }
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
