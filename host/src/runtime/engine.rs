//! The process's one wasmtime `Engine`: pooling allocator, epoch interruption, async.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of deadlines, and how often a long
/// guest call yields to other requests on its thread.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bounds that size the engine's instance pool.
#[derive(Debug, Clone, Copy)]
pub struct EngineLimits {
    /// The most any one linear memory may grow to, in bytes.
    pub memory_bytes: usize,
    /// How many component instances may exist at once, across all plugins.
    pub instances: u32,
}

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone)]
pub enum Allocator {
    /// Pre-reserved slots, reused between instances (fast instantiation).
    Pooling,
    /// Memory mapped per instance, because the pool's address space could not be
    /// reserved (a low `ulimit -v`, a small virtual address space).
    OnDemand {
        /// Why the pool could not be set up.
        reason: String,
    },
}

/// Builds the engine, preferring the pooling allocator.
pub fn build(limits: EngineLimits) -> wasmtime::Result<(Engine, Allocator)> {
    match Engine::new(&config(limits, true)) {
        Ok(engine) => Ok((engine, Allocator::Pooling)),
        Err(pool_error) => {
            let engine = Engine::new(&config(limits, false))?;
            let reason = format!("{pool_error:#}");
            Ok((engine, Allocator::OnDemand { reason }))
        }
    }
}

fn config(limits: EngineLimits, pool: bool) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if pool {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling(limits)));
    } else {
        // Where the pool did not fit, neither would wasmtime's default 4 GiB
        // reservation per memory: reserve only what the limit allows (bounds checks
        // become explicit, which is slower but fits).
        config.memory_reservation(limits.memory_bytes as u64);
        config.memory_guard_size(64 * 1024);
    }
    config
}

fn pooling(limits: EngineLimits) -> PoolingAllocationConfig {
    // A Rust component has a handful of core instances, memories and tables; one built
    // by componentize-py (CPython and its shims) has a few dozen.
    const CORE_INSTANCES_PER_COMPONENT: u32 = 64;
    const MEMORIES_PER_COMPONENT: u32 = 16;
    const TABLES_PER_COMPONENT: u32 = 64;

    let instances = limits.instances;
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_core_instances(instances.saturating_mul(4))
        .total_memories(instances.saturating_mul(2))
        .total_tables(instances.saturating_mul(4))
        .total_stacks(instances)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memory_size(limits.memory_bytes)
        // Resetting a small guest's memory with memset beats unmapping and faulting
        // it back in on the next instantiation (a Rust guest built with a 64 KiB
        // stack touches a few hundred KiB).
        .linear_memory_keep_resident(512 * 1024)
        .table_keep_resident(64 * 1024);
    pool
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: Engine) -> std::io::Result<EpochTicker> {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("piston-epoch".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(EPOCH_TICK);
                        engine.increment_epoch();
                    }
                }
            })?;
        Ok(EpochTicker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
