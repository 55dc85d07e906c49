//! Small helpers shared by several layers.

pub mod duration;
pub mod time;
