//! `config`: mount-wide kv v2 settings.

use coffer_sdk::duration::format_go_duration;
use coffer_sdk::{Request, Response, Result, Seconds};
use serde_json::json;

use super::model::Config;

/// `GET config`.
pub fn read(_req: &Request) -> Result<Response> {
    let config = Config::load()?;
    Ok(Response::data(json!({
        "cas_required": config.cas_required,
        "delete_version_after": format_go_duration(config.delete_version_after),
        "max_versions": config.max_versions,
    })))
}

/// `POST config`: changes only the fields given; `204`.
pub fn write(req: &Request) -> Result<Response> {
    let max_versions: Option<u32> = req.get("max_versions")?;
    let cas_required: Option<bool> = req.get("cas_required")?;
    let delete_version_after: Option<Seconds> = req.get("delete_version_after")?;
    if max_versions.is_none() && cas_required.is_none() && delete_version_after.is_none() {
        return Ok(Response::empty());
    }

    let mut config = Config::load()?;
    if let Some(n) = max_versions {
        config.max_versions = n;
    }
    if let Some(b) = cas_required {
        config.cas_required = b;
    }
    if let Some(Seconds(secs)) = delete_version_after {
        // Any negative value means "disabled for every secret"; Vault stores it as -1s.
        config.delete_version_after = if secs < 0 { -1 } else { secs };
    }
    config.save()?;
    Ok(Response::empty())
}
