//! The server's life between sealed and unsealed.
//!
//! A [`Core`] exists for the whole process; an [`App`] (mounts, tokens, policies, audit,
//! leases, background workers) exists only while the barrier is unsealed. Unsealing
//! builds the `App` over the barrier; sealing drops it: workers are stopped, the barrier
//! forgets its keys, and every request that needs storage answers `503 Vault is sealed`
//! until the next unseal. Requests already running keep their `App` and finish (their
//! storage calls fail, and they too answer 503).
//!
//! ```text
//!   uninitialised ──init──▶ sealed ──unseal (threshold shares)──▶ unsealed
//!                              ▲                                     │
//!                              └─────────────── seal ────────────────┘
//! ```

mod assemble;
mod progress;
mod seal_config;

pub use progress::{ShareOutcome, decode_share};
pub use seal_config::SealConfig;

use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

use crate::api::ApiError;
use crate::app::App;
use crate::plugins::EngineCatalog;
use crate::runtime::{Clock, Runtime};
use crate::seal::{Barrier, SealError, Share, UnsealKey};
use crate::server::ServerFlags;
use crate::storage::{SharedBackend, StorageError};

use progress::UnsealProgress;

/// Why a seal transition failed.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// `sys/init` on an initialised server.
    #[error("Vault is already initialized")]
    AlreadyInitialized,
    /// Unsealing an uninitialised server.
    #[error("Vault is not initialized")]
    NotInitialized,
    /// `reset` (or a share) sent to an unsealed server.
    #[error("vault is unsealed")]
    AlreadyUnsealed,
    /// Bad `sys/init` / `sys/unseal` parameters.
    #[error("{0}")]
    Invalid(String),
    /// The shares combine to a key that does not open the root key.
    #[error(
        "Error unsealing: the unseal key shares are not this server's (cipher: message authentication failed); unseal progress was reset"
    )]
    WrongKey,
    /// The seal itself failed (corrupt records, storage).
    #[error("seal: {0}")]
    Seal(#[from] SealError),
    /// Storage below the barrier failed.
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    /// The unsealed server could not be assembled (mounts, tokens, ...).
    #[error("cannot start the unsealed server: {0}")]
    Assemble(String),
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        match e {
            CoreError::AlreadyInitialized
            | CoreError::NotInitialized
            | CoreError::AlreadyUnsealed
            | CoreError::Invalid(_)
            | CoreError::WrongKey => ApiError::bad_request(e.to_string()),
            CoreError::Seal(_) | CoreError::Storage(_) | CoreError::Assemble(_) => {
                ApiError::internal(e.to_string())
            }
        }
    }
}

/// What stays the same across seal/unseal: the sandbox, the engine catalog, the clock
/// and the server's settings.
pub struct Settings {
    /// Flags (after the config file was applied).
    pub flags: ServerFlags,
    /// The sandbox.
    pub runtime: Arc<Runtime>,
    /// Engines that can be mounted.
    pub catalog: Arc<EngineCatalog>,
    /// The clock engines, leases and tokens see.
    pub clock: Arc<dyn Clock>,
    /// Dev mode's root token, (re-)registered at every unseal.
    pub dev_root_token: Option<String>,
}

/// The running, unsealed server and the tasks that belong to it.
struct Unsealed {
    app: Arc<App>,
    workers: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Unsealed {
    fn drop(&mut self) {
        for w in &self.workers {
            w.abort();
        }
    }
}

/// The process-wide server: storage, the barrier over it, and the unsealed [`App`] when
/// there is one.
pub struct Core {
    inner: SharedBackend,
    barrier: Arc<Barrier>,
    settings: Settings,
    state: RwLock<Option<Unsealed>>,
    progress: Mutex<UnsealProgress>,
    /// Serialises init/unseal/seal so two never interleave.
    transition: tokio::sync::Mutex<()>,
    me: Weak<Core>,
}

/// Result of `sys/init`: the shares (handed out once, never stored) and the root token.
pub struct InitOutput {
    /// The unseal key shares.
    pub shares: Vec<Share>,
    /// The initial root token.
    pub root_token: String,
}

impl Core {
    /// A sealed core over `inner`.
    pub fn new(inner: SharedBackend, settings: Settings) -> Arc<Self> {
        let barrier = Arc::new(Barrier::new(inner.clone()));
        Arc::new_cyclic(|me| Self {
            inner,
            barrier,
            settings,
            state: RwLock::new(None),
            progress: Mutex::new(UnsealProgress::default()),
            transition: tokio::sync::Mutex::new(()),
            me: me.clone(),
        })
    }

    /// The unsealed server, or `None` while sealed.
    pub fn app(&self) -> Option<Arc<App>> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|u| u.app.clone())
    }

    /// Whether the barrier is sealed.
    pub fn is_sealed(&self) -> bool {
        self.app().is_none()
    }

    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The storage backend's kind (`redb`, `inmem`), for status bodies.
    pub fn storage_kind(&self) -> &'static str {
        self.inner.kind()
    }

    /// The barrier (key rotation and status).
    pub fn barrier(&self) -> &Arc<Barrier> {
        &self.barrier
    }

    /// Whether storage holds a root key.
    pub fn is_initialized(&self) -> Result<bool, CoreError> {
        Ok(self.barrier.is_initialized()?)
    }

    /// Shares and threshold chosen at init (readable while sealed).
    pub fn seal_config(&self) -> Result<Option<SealConfig>, CoreError> {
        SealConfig::load(&self.inner)
    }

    /// `(progress, nonce)` of the current unseal attempt.
    pub fn unseal_progress(&self) -> (usize, String) {
        let p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        (p.len(), p.nonce().to_string())
    }

    /// Initialises storage: a new unseal key split into `shares` with `threshold`, a root
    /// key and keyring, and an initial root token. Leaves the server sealed, as Vault.
    pub async fn initialize(
        &self,
        shares: usize,
        threshold: usize,
    ) -> Result<InitOutput, CoreError> {
        let config = SealConfig::new(shares, threshold)?;
        let key = UnsealKey::generate();
        let _t = self.transition.lock().await;
        let root_token = self.initialize_with(&key, &config)?;
        let shares = key.split(config.shares, config.threshold)?;
        Ok(InitOutput { shares, root_token })
    }

    /// Dev mode's init: one share, which is the key itself.
    pub async fn initialize_dev(&self, key: &UnsealKey) -> Result<(), CoreError> {
        let config = SealConfig::new(1, 1)?;
        let _t = self.transition.lock().await;
        self.initialize_with(key, &config).map(|_| ())
    }

    fn initialize_with(&self, key: &UnsealKey, config: &SealConfig) -> Result<String, CoreError> {
        if self.barrier.is_initialized()? {
            return Err(CoreError::AlreadyInitialized);
        }
        // The seal config goes first: a crash before the root key lands leaves an
        // uninitialised store whose stale config the next init overwrites.
        config.store(&self.inner)?;
        self.barrier.initialize(key)?;
        self.barrier.unseal(key)?;
        let minted = assemble::first_root_token(self.barrier.clone(), &self.settings);
        self.barrier.seal();
        minted
    }

    /// Adds one unseal key share; unseals when `threshold` distinct shares are in.
    pub async fn submit_share(&self, share: Vec<u8>) -> Result<ShareOutcome, CoreError> {
        let _t = self.transition.lock().await;
        if !self.is_sealed() {
            return Err(CoreError::AlreadyUnsealed);
        }
        let config = self.seal_config()?.ok_or(CoreError::NotInitialized)?;
        if !self.barrier.is_initialized()? {
            return Err(CoreError::NotInitialized);
        }
        let ready = {
            let mut p = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
            p.add(share, config.threshold)
        };
        let Some(shares) = ready else {
            return Ok(ShareOutcome::Pending);
        };
        let key = UnsealKey::from_shares(&shares).map_err(|_| CoreError::WrongKey)?;
        self.unseal_locked(&key).await?;
        Ok(ShareOutcome::Unsealed)
    }

    /// Forgets the shares submitted so far.
    pub fn reset_progress(&self) -> Result<(), CoreError> {
        if !self.is_sealed() {
            return Err(CoreError::AlreadyUnsealed);
        }
        self.progress
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .reset();
        Ok(())
    }

    /// Unseals with the whole key (dev mode).
    pub async fn unseal_with_key(&self, key: &UnsealKey) -> Result<(), CoreError> {
        let _t = self.transition.lock().await;
        if !self.is_sealed() {
            return Ok(());
        }
        self.unseal_locked(key).await
    }

    async fn unseal_locked(&self, key: &UnsealKey) -> Result<(), CoreError> {
        match self.barrier.unseal(key) {
            Ok(()) => {}
            Err(SealError::InvalidKey) => return Err(CoreError::WrongKey),
            Err(e) => return Err(e.into()),
        }
        let built = assemble::build(self.barrier.clone(), &self.settings, self.me.clone()).await;
        let (app, workers) = match built {
            Ok(b) => b,
            Err(e) => {
                self.barrier.seal();
                return Err(e);
            }
        };
        *self.state.write().unwrap_or_else(PoisonError::into_inner) =
            Some(Unsealed { app, workers });
        tracing::info!("unsealed");
        Ok(())
    }

    /// Seals: stops the unsealed server's workers and drops the keys.
    pub async fn seal(&self) {
        let _t = self.transition.lock().await;
        let taken = self
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(taken);
        self.barrier.seal();
        tracing::info!("sealed");
    }
}
