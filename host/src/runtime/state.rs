//! The data each wasmtime `Store` carries for one plugin instance.

use super::guest_log::{GuestLog, GuestStream};
use super::services::PluginServices;
use std::sync::Arc;
use std::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// One instance's host-side state: its WASI context (stdio to the log, nothing else),
/// resource table, memory limit, shared plugin services, and the current deadline.
pub struct HostState {
    wasi: WasiCtx,
    stderr: GuestLog,
    table: ResourceTable,
    limits: StoreLimits,
    services: Arc<PluginServices>,
    /// When the current call must end; checked on every epoch tick.
    pub(super) deadline: Instant,
}

impl HostState {
    /// State for a new instance of a plugin logging as `label`.
    pub fn new(label: Arc<str>, services: Arc<PluginServices>, memory_bytes: usize) -> HostState {
        let stderr = GuestLog::new(label.clone(), GuestStream::Stderr);
        let wasi = WasiCtx::builder()
            .stdout(GuestLog::new(label, GuestStream::Stdout))
            .stderr(stderr.clone())
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        HostState {
            wasi,
            stderr,
            table: ResourceTable::new(),
            limits,
            services,
            deadline: Instant::now(),
        }
    }

    /// The guest's stderr, whose last lines explain a trap.
    pub(super) fn stderr(&self) -> &GuestLog {
        &self.stderr
    }

    pub(super) fn services(&self) -> &PluginServices {
        &self.services
    }

    pub(super) fn table(&self) -> &ResourceTable {
        &self.table
    }

    pub(super) fn table_mut(&mut self) -> &mut ResourceTable {
        &mut self.table
    }

    pub(super) fn limits(&mut self) -> &mut StoreLimits {
        &mut self.limits
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}
