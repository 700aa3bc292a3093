//! The data each wasmtime `Store` carries for one plugin instance.

use super::guest_log::{GuestLog, GuestStream, LogBudget};
use super::plugin_data::PluginServices;
use crate::outbound::OutboundCall;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// The most elements all tables of one instance may hold together. A Rust guest has a
/// few hundred; one built by componentize-py a few thousand.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

/// One instance's host-side state: its WASI context (stdio to the log, nothing else),
/// outbound HTTP under its plugin's policy, resource table, memory budget, shared
/// plugin services, and the current deadline.
pub struct HostState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    outbound: OutboundCall,
    stdout: GuestLog,
    stderr: GuestLog,
    table: ResourceTable,
    memory: MemoryBudget,
    services: Arc<PluginServices>,
    /// When the current call must end; checked on every epoch tick.
    deadline: Instant,
    /// Why a store call of the current call could not reach the store, if one could
    /// not: whatever the guest then answers may be wrong, so the host answers 503.
    store_outage: Option<String>,
}

impl HostState {
    /// State for a new instance of a plugin logging as `label` within `log`, its
    /// memories together allowed `memory_bytes`.
    pub fn new(
        label: Arc<str>,
        services: Arc<PluginServices>,
        memory_bytes: usize,
        log: Arc<LogBudget>,
    ) -> HostState {
        let stdout = GuestLog::new(label.clone(), GuestStream::Stdout, log.clone());
        let stderr = GuestLog::new(label, GuestStream::Stderr, log);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .build();
        HostState {
            wasi,
            http: WasiHttpCtx::new(),
            outbound: OutboundCall::new(services.outbound.clone()),
            stdout,
            stderr,
            table: ResourceTable::new(),
            memory: MemoryBudget::new(memory_bytes),
            services,
            deadline: Instant::now(),
            store_outage: None,
        }
    }

    /// The guest's stderr, whose last lines explain a trap.
    pub(super) fn stderr(&self) -> &GuestLog {
        &self.stderr
    }

    /// A call starts, for `request_id` if it is a new request's.
    pub(super) fn begin_call(&mut self, timeout: Duration, request_id: Option<&str>) {
        self.deadline = Instant::now() + timeout;
        self.store_outage = None;
        self.outbound.begin();
        self.stdout.begin(request_id);
        self.stderr.begin(request_id);
    }

    /// A call ended: output held back by the log limits is reported.
    pub(super) fn end_call(&mut self) {
        self.stdout.end();
        self.stderr.end();
    }

    /// Notes that a store call of the current call could not reach the store.
    pub(super) fn store_unreachable(&mut self, error: &str) {
        self.store_outage.get_or_insert_with(|| error.to_owned());
    }

    /// Why the current call's store calls could not reach the store, if one could not.
    pub(super) fn take_store_outage(&mut self) -> Option<String> {
        self.store_outage.take()
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

    /// Whether the last trap came from the memory budget.
    pub(super) fn memory_refused(&self) -> bool {
        self.memory.refused
    }

    pub(super) fn limiter(&mut self) -> &mut MemoryBudget {
        &mut self.memory
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

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The memory an instance may use: every linear memory of every core instance in the
/// component counted together (a component may have dozens), so that the limit is
/// the instance's, not each memory's.
pub struct MemoryBudget {
    limit: usize,
    used: usize,
    /// What the last permitted growth added, taken back if the growth then failed.
    pending: usize,
    table_elements: usize,
    refused: bool,
}

impl MemoryBudget {
    fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            used: 0,
            pending: 0,
            table_elements: 0,
            refused: false,
        }
    }
}

impl ResourceLimiter for MemoryBudget {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_within(&mut self.used, current, desired, self.limit) {
            Some(growth) => {
                self.pending = growth;
                Ok(true)
            }
            None => {
                self.refused = true;
                Err(wasmtime::format_err!(
                    "the plugin's memory limit of {} MiB is reached (its memories would \
                     grow to {} MiB)",
                    self.limit >> 20,
                    self.used.saturating_add(desired.saturating_sub(current)) >> 20
                ))
            }
        }
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.used = self.used.saturating_sub(self.pending);
        self.pending = 0;
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match grow_within(
            &mut self.table_elements,
            current,
            desired,
            MAX_TABLE_ELEMENTS,
        ) {
            Some(_) => Ok(true),
            None => Err(wasmtime::format_err!(
                "the plugin's tables would hold more than {MAX_TABLE_ELEMENTS} elements"
            )),
        }
    }
}

/// Adds the growth from `current` to `desired` to `used` if the total stays within
/// `limit`, and returns the growth; `None`, changing nothing, if it would not.
fn grow_within(used: &mut usize, current: usize, desired: usize, limit: usize) -> Option<usize> {
    let growth = desired.saturating_sub(current);
    *used = used.checked_add(growth).filter(|total| *total <= limit)?;
    Some(growth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_memory_counts_against_one_budget() {
        let mut budget = MemoryBudget::new(10 << 20);
        assert!(budget.memory_growing(0, 4 << 20, None).unwrap());
        assert!(budget.memory_growing(0, 4 << 20, None).unwrap());
        // A third memory, or the first growing past the rest, is refused.
        assert!(budget.memory_growing(0, 4 << 20, None).is_err());
        assert!(budget.refused);
        assert!(budget.memory_growing(4 << 20, 6 << 20, None).unwrap());
        assert!(budget.memory_growing(6 << 20, 6 << 20 | 1, None).is_err());
    }

    #[test]
    fn failed_growth_is_given_back() {
        let mut budget = MemoryBudget::new(8 << 20);
        assert!(budget.memory_growing(0, 8 << 20, None).unwrap());
        budget
            .memory_grow_failed(wasmtime::format_err!("no room"))
            .unwrap();
        assert!(budget.memory_growing(0, 8 << 20, None).unwrap());
    }
}
