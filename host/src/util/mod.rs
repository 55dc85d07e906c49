//! Small helpers shared by several layers.

pub mod duration;
pub mod time;

/// Go's `strconv.ParseBool`, which Vault uses for every boolean parameter.
pub fn parse_go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}
