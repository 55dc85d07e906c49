//! The trait an engine implements, and the glue between it and the WIT exports.

use std::cell::RefCell;
use std::rc::Rc;

use serde_json::{Map, Value};

use crate::bindings::coffer::engine::types as wit;
use crate::error::{Error, Result};
use crate::request::{Mount, Request};
use crate::router::Router;

/// A secrets engine. Implement it on a unit struct and export it with
/// [`export_engine!`](crate::export_engine).
///
/// An instance may serve one call or several calls of the same mount (never of two
/// mounts), so an engine relies on no state in memory between calls: everything lives
/// in [`storage`](crate::storage).
pub trait Engine {
    /// Describes the engine. Called when the component is loaded; must not touch
    /// storage.
    fn info() -> Info;

    /// Builds the routes for requests arriving through `mount`; it can depend on mount
    /// options (kv picks v1 or v2 routes by the `version` option), and on nothing
    /// else: an instance that serves several calls of one mount builds its router on
    /// the first and reuses it while the mount (path, accessor, options, TTLs) stays
    /// the same. An error here fails the request (and is not kept: the next request
    /// calls this again).
    fn router(mount: &Mount) -> Result<Router>;

    /// Renews a lease this engine granted as renewable: returns the new terms, or an
    /// error to refuse. The default refuses with `unsupported operation`.
    fn renew(lease: &Lease) -> Result<LeaseTerms> {
        let _ = lease;
        Err(Error::UnsupportedOperation)
    }

    /// Revokes a lease this engine granted, undoing whatever the secret gave access to.
    /// An error makes the host retry later, so this must be safe to run more than once.
    /// The default has nothing to undo and succeeds.
    fn revoke(lease: &Lease) -> Result<()> {
        let _ = lease;
        Ok(())
    }

    /// Housekeeping, called about once a minute per mount (rolling back half-finished
    /// work, tidying storage). The default does nothing.
    fn periodic(mount: &Mount) -> Result<()> {
        let _ = mount;
        Ok(())
    }
}

/// What an engine says about itself, from [`Engine::info`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    /// The engine's name, e.g. `kv`.
    pub name: String,
    /// The engine's version, semver with a leading `v`, e.g. `v0.1.0`.
    pub version: String,
    /// One line describing the engine.
    pub description: String,
    /// Help for the engine's paths: (pattern, help text) pairs.
    pub paths: Vec<(String, String)>,
}

impl Info {
    /// Info with a name, a version (`v1.2.3`) and a one-line description.
    pub fn new(
        name: impl Into<String>,
        version: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Info {
            name: name.into(),
            version: version.into(),
            description: description.into(),
            paths: Vec::new(),
        }
    }

    /// Adds help text for a path pattern.
    pub fn path(mut self, pattern: impl Into<String>, help: impl Into<String>) -> Self {
        self.paths.push((pattern.into(), help.into()));
        self
    }
}

/// A lease this engine granted, handed back for [`Engine::renew`] and
/// [`Engine::revoke`].
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    /// The lease id, e.g. `aws/creds/my-role/HyGTVuSGzjl9JDPfW4WAbgIc`.
    pub id: String,
    /// The request path inside the mount that created the secret, e.g. `creds/my-role`.
    pub path: String,
    /// When the lease was issued, in nanoseconds since the Unix epoch.
    pub issue_time: u64,
    /// The internal data the engine put into its [`LeaseGrant`](crate::LeaseGrant).
    pub internal: Map<String, Value>,
    /// The data the client received when the secret was issued.
    pub data: Map<String, Value>,
    /// For renew: the increment in seconds the client asked for, 0 for none.
    pub increment: u64,
    /// The mount the lease belongs to.
    pub mount: Mount,
}

impl Lease {
    fn from_wit(l: wit::Lease) -> Result<Self> {
        Ok(Lease {
            internal: parse_object(&l.internal, "lease internal data")?,
            data: parse_object(&l.data, "lease data")?,
            id: l.id,
            path: l.path,
            issue_time: l.issue_time,
            increment: l.increment,
            mount: Mount::from_wit(l.mount),
        })
    }
}

/// An empty string counts as an empty object: a lease granted without internal data.
fn parse_object(text: &str, what: &str) -> Result<Map<String, Value>> {
    if text.trim().is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str(text) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Error::internal(format!("{what} is not a JSON object"))),
    }
}

/// New terms for a renewed lease; the host applies the mount's caps on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LeaseTerms {
    /// The new TTL in seconds; 0 means the mount's default.
    pub ttl: u64,
    /// The new maximum TTL in seconds; 0 means the mount's maximum.
    pub max_ttl: u64,
}

/// Runs one request through the engine's router: the path every exported request
/// function takes. Public for tests that want to exercise an engine natively.
pub fn dispatch<E: Engine>(req: Request) -> Result<crate::Response> {
    let router = router_for::<E>(req.mount())?;
    router.handle(req)
}

/// The router last built, and for which engine and mount.
struct BuiltRouter {
    engine: &'static str,
    mount: Mount,
    router: Rc<Router>,
}

thread_local! {
    // Building a router allocates every pattern and handler; a warm instance serving
    // many requests of one mount builds it once (`Engine::router` is a function of the
    // mount alone). A wasm instance has one thread, so this is one slot per instance.
    static LAST_ROUTER: RefCell<Option<BuiltRouter>> = const { RefCell::new(None) };
}

/// `E`'s router for `mount`: the one built last if it was built for the same engine
/// and an identical mount, else a new one (which then replaces it).
fn router_for<E: Engine>(mount: &Mount) -> Result<Rc<Router>> {
    let engine = std::any::type_name::<E>();
    let reused = LAST_ROUTER.with_borrow(|last| {
        last.as_ref()
            .filter(|b| b.engine == engine && b.mount == *mount)
            .map(|b| b.router.clone())
    });
    if let Some(router) = reused {
        return Ok(router);
    }
    let router = Rc::new(E::router(mount)?);
    LAST_ROUTER.set(Some(BuiltRouter {
        engine,
        mount: mount.clone(),
        router: router.clone(),
    }));
    Ok(router)
}

/// The glue the [`export_engine!`](crate::export_engine) macro expands to. Not a
/// stable API.
#[doc(hidden)]
pub mod glue {
    use super::*;

    pub fn info<E: Engine>() -> wit::EngineInfo {
        let info = E::info();
        wit::EngineInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            paths: info.paths,
        }
    }

    pub fn request<E: Engine>(
        req: wit::Request,
    ) -> core::result::Result<wit::Response, wit::Error> {
        Request::from_wit(req)
            .and_then(dispatch::<E>)
            .and_then(crate::Response::into_wit)
            .map_err(Error::into_wit)
    }

    pub fn renew<E: Engine>(
        lease: wit::Lease,
    ) -> core::result::Result<wit::LeaseTerms, wit::Error> {
        Lease::from_wit(lease)
            .and_then(|l| E::renew(&l))
            .map(|t| wit::LeaseTerms {
                ttl: t.ttl,
                max_ttl: t.max_ttl,
            })
            .map_err(Error::into_wit)
    }

    pub fn revoke<E: Engine>(lease: wit::Lease) -> core::result::Result<(), wit::Error> {
        Lease::from_wit(lease)
            .and_then(|l| E::revoke(&l))
            .map_err(Error::into_wit)
    }

    pub fn periodic<E: Engine>(mount: wit::Mount) -> core::result::Result<(), wit::Error> {
        E::periodic(&Mount::from_wit(mount)).map_err(Error::into_wit)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use serde_json::json;

    use super::*;
    use crate::{Operation, Response};

    thread_local! {
        static BUILT: Cell<u32> = const { Cell::new(0) };
    }

    /// Answers `who` with its name and the mount's `flavour` option; counts router builds.
    struct Named<const N: u8>;

    impl<const N: u8> Engine for Named<N> {
        fn info() -> Info {
            Info::new("named", "v0.0.1", "")
        }

        fn router(mount: &Mount) -> Result<Router> {
            BUILT.set(BUILT.get() + 1);
            let flavour = mount.option("flavour").unwrap_or_default().to_string();
            let mut router = Router::new();
            router
                .path("who")
                .read(move |_| Ok(Response::data(json!({"engine": N, "flavour": flavour}))));
            Ok(router)
        }
    }

    fn who<E: Engine>(flavour: &str) -> Value {
        let mut mount = Mount::default();
        mount.options.insert("flavour".into(), flavour.into());
        let req = Request::new(Operation::Read, "who").with_mount(mount);
        dispatch::<E>(req)
            .ok()
            .and_then(|r| r.data_value().cloned())
            .unwrap_or_default()
    }

    #[test]
    fn a_router_is_built_once_per_engine_and_mount() {
        BUILT.set(0);
        assert_eq!(who::<Named<1>>("a"), json!({"engine": 1, "flavour": "a"}));
        assert_eq!(who::<Named<1>>("a"), json!({"engine": 1, "flavour": "a"}));
        assert_eq!(BUILT.get(), 1, "same engine and mount: built once");
        assert_eq!(who::<Named<1>>("b"), json!({"engine": 1, "flavour": "b"}));
        assert_eq!(who::<Named<2>>("b"), json!({"engine": 2, "flavour": "b"}));
        assert_eq!(
            BUILT.get(),
            3,
            "another mount or engine gets its own router"
        );
        assert_eq!(who::<Named<1>>("a"), json!({"engine": 1, "flavour": "a"}));
    }
}
