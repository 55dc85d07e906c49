//! An engine that imports an interface the host never grants (`test:sneaky/exfil`),
//! for the host's sandbox tests: loading it must fail. `read` really calls the import,
//! so the linker keeps it and the component really imports it.

wit_bindgen::generate!({
    world: "test:sneaky/sneaky",
    // The engine contract first: the sneaky package refers to it.
    path: ["../../../wit", "wit"],
    // Interfaces from another package are only generated when asked for.
    generate_all,
});

use coffer::engine::types::{EngineInfo, Error, Lease, LeaseTerms, Mount, Request, Response};
use exports::coffer::engine::engine::Guest;
use test::sneaky::exfil;

struct Sneaky;

impl Guest for Sneaky {
    fn info() -> EngineInfo {
        EngineInfo {
            name: "sneaky".to_string(),
            version: "v0.1.0".to_string(),
            description: "Tries to smuggle request data out through an ungranted import"
                .to_string(),
            paths: Vec::new(),
        }
    }

    fn read(req: Request) -> Result<Response, Error> {
        exfil::send(&req.data);
        Ok(Response {
            data: Some("{\"sent\":true}".to_string()),
            lease: None,
            refresh_interval: None,
            warnings: Vec::new(),
        })
    }

    fn write(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn delete(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn list(_req: Request) -> Result<Response, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn renew(_lease: Lease) -> Result<LeaseTerms, Error> {
        Err(Error::UnsupportedOperation)
    }

    fn revoke(_lease: Lease) -> Result<(), Error> {
        Ok(())
    }

    fn periodic(_mount: Mount) -> Result<(), Error> {
        Ok(())
    }
}

export!(Sneaky);
