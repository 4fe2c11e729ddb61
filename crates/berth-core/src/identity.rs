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

        let (key_id, secret) = match root_key {
            Some(pair) => pair,
            None => (AccessKeyId::generate(), SecretAccessKey::generate()),
        };
        let stored_root = meta.setting_or_insert(ROOT_KEY, key_id.as_str()).await?;
        let new_root_secret = if meta.access_key(key_id.as_str()).await?.is_none() {
            meta.insert_access_key(&AccessKeyRow {
                id: key_id.to_string(),
                account_id: account.to_string(),
                user_name: "root".into(),
                secret: secret.expose().to_owned(),
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
            signer: TokenSigner::new(signing_key.as_bytes()),
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

    /// Authenticates a registry token (the docker login password).
    pub fn authenticate_token(&self, token: &str) -> Result<Principal, CoreError> {
        match self.signer.verify(token, self.clock.now()) {
            Ok(claims) => Ok(Principal::new(
                claims.account,
                claims.access_key_id,
                String::new(),
            )),
            Err(TokenError::Expired) => Err(CoreError::Unauthenticated(AuthFailure::Expired)),
            Err(TokenError::Malformed | TokenError::BadSignature) => {
                Err(CoreError::Unauthenticated(AuthFailure::Invalid))
            }
        }
    }

    async fn access_key(&self, key_id: &str) -> Result<(AccessKeyId, AccessKeyRow), CoreError> {
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

    /// Authenticates an access key pair, as the admin API receives it.
    pub async fn authenticate_key(
        &self,
        key_id: &str,
        secret: &str,
    ) -> Result<Principal, CoreError> {
        let (id, row) = self.access_key(key_id).await?;
        if !SecretAccessKey::new(row.secret.clone()).matches(secret) {
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
        berth_iam::sigv4::verify(
            auth,
            request,
            &row.secret,
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

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
