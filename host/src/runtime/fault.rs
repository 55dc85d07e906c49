//! Why an engine call failed inside the sandbox, named for the operator and client.

use std::time::Duration;

/// A failure of the engine itself (not an error the engine chose to return).
#[derive(Debug, thiserror::Error)]
pub enum EngineFault {
    /// The call ran past its deadline and was stopped.
    #[error("engine {engine:?} exceeded its deadline of {timeout:?} and was stopped")]
    Deadline {
        /// Engine name.
        engine: String,
        /// The deadline it exceeded.
        timeout: Duration,
    },
    /// The engine tried to grow its memory past the limit.
    #[error("engine {engine:?} exceeded its memory limit of {limit} bytes and was stopped")]
    Memory {
        /// Engine name.
        engine: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The engine trapped (a panic, an abort, an invalid operation).
    #[error("engine {engine:?} crashed: {cause}")]
    Trap {
        /// Engine name.
        engine: String,
        /// The trap as wasmtime describes it.
        cause: String,
    },
    /// The engine returned more data than the host accepts.
    #[error("engine {engine:?} response too large: {size} bytes, over the {limit}-byte limit")]
    ResponseTooLarge {
        /// Engine name.
        engine: String,
        /// Response size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The engine returned JSON that is not a JSON object.
    #[error("engine {engine:?} returned malformed data: {reason}")]
    BadOutput {
        /// Engine name.
        engine: String,
        /// What was wrong.
        reason: String,
    },
    /// The call's writes could not be committed; none of them were applied.
    #[error("engine {engine:?} finished but its writes could not be stored: {cause}")]
    Commit {
        /// Engine name.
        engine: String,
        /// The storage error.
        cause: String,
    },
    /// The host's engine memory budget had no room for the memory the call needed.
    #[error(
        "engine {engine:?} was stopped: the host's engine memory budget ({budget} bytes) is exhausted; retry later"
    )]
    MemoryBudget {
        /// Engine name.
        engine: String,
        /// The host-wide budget in bytes.
        budget: usize,
    },
    /// The call's mount already ran as many calls as it may, and no turn came within the
    /// call's deadline.
    #[error(
        "mount {mount} is at its limit of {limit} concurrent engine calls; this call of engine {engine:?} waited {waited:?} for a turn and was refused; retry later"
    )]
    MountBusy {
        /// Engine name.
        engine: String,
        /// The mount path.
        mount: String,
        /// The mount's concurrency limit.
        limit: usize,
        /// How long the call waited.
        waited: Duration,
    },
    /// Every instance slot of the host was taken, and none came free within the call's
    /// deadline.
    #[error(
        "all {limit} engine instance slots of the host are busy; this call of engine {engine:?} waited {waited:?} and was refused; retry later"
    )]
    HostBusy {
        /// Engine name.
        engine: String,
        /// The host's instance slots.
        limit: usize,
        /// How long the call waited.
        waited: Duration,
    },
    /// No sandbox slot could be had (the host is at its instance limit).
    #[error("engine {engine:?} could not be started: {cause}")]
    Instantiate {
        /// Engine name.
        engine: String,
        /// Why.
        cause: String,
    },
}

impl EngineFault {
    /// Whether the host refused the call for want of capacity (memory budget, a busy
    /// mount or host) rather than because of anything the engine did: such a call may
    /// succeed later, and is answered `503 Service Unavailable`.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self,
            EngineFault::MemoryBudget { .. }
                | EngineFault::MountBusy { .. }
                | EngineFault::HostBusy { .. }
        )
    }
}

/// Why a component could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The bytes are not a valid component, or compilation failed.
    #[error("engine component {name:?} failed to compile: {cause}")]
    Compile {
        /// The plugin name.
        name: String,
        /// Compiler message.
        cause: String,
    },
    /// The component imports an interface the host does not grant it.
    #[error(
        "engine component {name:?} imports {import:?}, which is not granted to it (granted: {granted})"
    )]
    UngrantedImport {
        /// The plugin name.
        name: String,
        /// The import that is not allowed.
        import: String,
        /// What is allowed.
        granted: String,
    },
    /// The component does not export the engine interface in a compatible shape.
    #[error("engine component {name:?} does not implement coffer:engine/engine@0.1.0: {cause}")]
    Link {
        /// The plugin name.
        name: String,
        /// Linker message.
        cause: String,
    },
    /// Calling `info()` failed.
    #[error("engine component {name:?} failed while describing itself: {cause}")]
    Info {
        /// The plugin name.
        name: String,
        /// Why.
        cause: String,
    },
}
