//! The data each wasmtime `Store` carries for one plugin instance.

use super::guest_log::{GuestLog, GuestStream};
use super::services::PluginServices;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::{StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

/// One instance's host-side state: its WASI context (stdio to the log, nothing else),
/// resource table, memory limit, shared plugin services, and the current deadline.
pub struct HostState {
    wasi: WasiCtx,
    stdout: GuestLog,
    stderr: GuestLog,
    table: ResourceTable,
    limits: StoreLimits,
    services: Arc<PluginServices>,
    /// When the current call must end; checked on every epoch tick.
    deadline: Instant,
}

impl HostState {
    /// State for a new instance of a plugin logging as `label`.
    pub fn new(label: Arc<str>, services: Arc<PluginServices>, memory_bytes: usize) -> HostState {
        let stdout = GuestLog::new(label.clone(), GuestStream::Stdout);
        let stderr = GuestLog::new(label, GuestStream::Stderr);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_bytes)
            .trap_on_grow_failure(true)
            .build();
        HostState {
            wasi,
            stdout,
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

    /// A call starts, for `request_id` if it is a new request's.
    pub(super) fn begin_call(&mut self, timeout: Duration, request_id: Option<&str>) {
        self.deadline = Instant::now() + timeout;
        self.stdout.begin(request_id);
        self.stderr.begin(request_id);
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

    /// When the current call must end.
    pub(super) fn deadline(&self) -> Instant {
        self.deadline
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
