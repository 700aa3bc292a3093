//! Warm instances per plugin, reused one request at a time, and the cap on how many a
//! plugin may have busy at once.
//!
//! Calling a warm instance costs about a microsecond; instantiating one costs tens of
//! microseconds for a Rust guest and a millisecond for a Python one. So by default an
//! instance that finished its calls cleanly goes back to its plugin's pool, as
//! django-piston kept one handler object per `Resource`. With [`Isolation::Request`]
//! every request gets a fresh instance and no state survives between requests.
//!
//! A [`Checkout`] owns one instance for one request (and its stream, if it answers
//! with one) and decides once, when it is dropped, where the instance goes: back to
//! the pool if every call on it returned normally, else away. It also holds one of the
//! plugin's [`InstanceLimits::concurrency`] slots, so a plugin whose calls hang cannot
//! take every instance the engine has: past the cap, requests are refused at once.

use super::bindings::Plugin;
use super::guest_log::{LogBudget, LogLimits};
use super::instance::{CallError, Guest, Instance};
use super::plugin_data::PluginServices;
use super::state::HostState;
use crate::outbound::OutboundLimits;
use crate::telemetry::PoolMetrics;
use serde::{Deserialize, Serialize};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime::Engine;

/// Whether instances serve many requests or one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// Reuse warm instances (fast; a guest may keep state in memory between requests).
    #[default]
    Pool,
    /// A fresh instance for every request (nothing survives a request).
    Request,
}

/// How much one plugin's instances may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    /// The memory limit of one instance (all its memories together), in bytes.
    pub memory_bytes: usize,
    /// How long any one call may run.
    pub timeout: Duration,
    /// How many idle instances to keep warm.
    pub warm: usize,
    /// How many instances may be busy at once (requests in flight, streams open).
    pub concurrency: usize,
    /// The largest body one answer (or one batch of stream items) may carry, in bytes.
    pub output_bytes: usize,
    /// How much the plugin may log.
    pub log: LogLimits,
    /// How much the plugin's data in the store may hold, in bytes.
    pub storage_bytes: u64,
    /// What one call may send out.
    pub outbound: OutboundLimits,
}

/// What every instance of a plugin gets.
#[derive(Clone)]
pub struct InstanceSetup {
    /// The name its log lines carry.
    pub label: Arc<str>,
    /// Its data and settings.
    pub services: Arc<PluginServices>,
    /// Its limits.
    pub limits: InstanceLimits,
}

impl InstanceSetup {
    /// A new instance of `pre` with this setup, logging within `log`.
    pub(super) async fn instantiate<G: Guest>(
        &self,
        engine: &Engine,
        pre: &G::Pre,
        log: &Arc<LogBudget>,
    ) -> Result<Instance<G>, CallError> {
        let state = HostState::new(
            self.label.clone(),
            self.services.clone(),
            self.limits.memory_bytes,
            log.clone(),
        );
        Instance::new(
            engine,
            pre,
            state,
            self.limits.timeout,
            self.limits.output_bytes,
        )
        .await
    }
}

/// Why no instance could be had.
#[derive(Debug, thiserror::Error)]
pub enum CheckoutError {
    /// Every one of the plugin's slots is busy.
    #[error("all {0} of the plugin's instances are busy")]
    Busy(usize),
    /// A new instance could not be started.
    #[error("a new instance cannot be started: {0}")]
    Start(#[from] CallError),
}

/// A plugin's instances.
pub struct InstancePool<G: Guest = Plugin> {
    shared: Arc<Shared<G>>,
}

struct Shared<G: Guest> {
    engine: Engine,
    pre: G::Pre,
    setup: InstanceSetup,
    isolation: Isolation,
    log: Arc<LogBudget>,
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<Instance<G>>>,
    metrics: Option<PoolMetrics>,
}

impl<G: Guest> Shared<G> {
    /// Records into the pool's metrics, when they are on.
    fn record(&self, record: impl FnOnce(&PoolMetrics)) {
        if let Some(metrics) = &self.metrics {
            record(metrics);
        }
    }
}

impl<G: Guest> Drop for Shared<G> {
    fn drop(&mut self) {
        let warm = lock(&self.idle).len();
        self.record(|metrics| metrics.retired(warm));
    }
}

impl<G: Guest> InstancePool<G> {
    /// A pool for the plugin `pre`.
    pub(super) fn new(
        engine: Engine,
        pre: G::Pre,
        setup: InstanceSetup,
        isolation: Isolation,
    ) -> InstancePool<G> {
        InstancePool {
            shared: Arc::new(Shared {
                engine,
                pre,
                log: Arc::new(LogBudget::new(setup.limits.log)),
                slots: Arc::new(Semaphore::new(setup.limits.concurrency)),
                metrics: crate::telemetry::metrics().map(|metrics| metrics.pool(&setup.label)),
                setup,
                isolation,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// A warm instance if there is one, else a new one; refused at once when the
    /// plugin has as many busy as it may.
    pub async fn checkout(&self) -> Result<Checkout<G>, CheckoutError> {
        let shared = &self.shared;
        let Ok(slot) = shared.slots.clone().try_acquire_owned() else {
            shared.record(PoolMetrics::refused);
            return Err(CheckoutError::Busy(shared.setup.limits.concurrency));
        };
        let warm = lock(&shared.idle).pop();
        let instance = match warm {
            Some(instance) => {
                shared.record(|metrics| metrics.idle(false));
                instance
            }
            None => {
                let started = Instant::now();
                let instance = shared
                    .setup
                    .instantiate(&shared.engine, &shared.pre, &shared.log)
                    .await?;
                shared.record(|metrics| metrics.created(started.elapsed()));
                instance
            }
        };
        shared.record(|metrics| metrics.in_use(true));
        Ok(Checkout {
            instance: Some(instance),
            shared: shared.clone(),
            _slot: slot,
        })
    }

    /// A new instance for a one-off call (describing a plugin), outside the pool and
    /// its slots.
    pub(super) async fn one_off(
        setup: &InstanceSetup,
        engine: &Engine,
        pre: &G::Pre,
    ) -> Result<Instance<G>, CallError> {
        let log = Arc::new(LogBudget::new(setup.limits.log));
        setup.instantiate(engine, pre, &log).await
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Instances in the list are whole whatever panicked elsewhere.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One instance checked out of its pool, with one of the plugin's slots. Dropped, it
/// returns a sound instance to the pool (unless the plugin isolates requests or
/// enough are warm) and discards any other.
pub struct Checkout<G: Guest = Plugin> {
    instance: Option<Instance<G>>,
    shared: Arc<Shared<G>>,
    _slot: OwnedSemaphorePermit,
}

impl<G: Guest> Deref for Checkout<G> {
    type Target = Instance<G>;

    fn deref(&self) -> &Instance<G> {
        self.instance.as_ref().expect("present until dropped")
    }
}

impl<G: Guest> DerefMut for Checkout<G> {
    fn deref_mut(&mut self) -> &mut Instance<G> {
        self.instance.as_mut().expect("present until dropped")
    }
}

impl<G: Guest> Drop for Checkout<G> {
    fn drop(&mut self) {
        let Some(instance) = self.instance.take() else {
            return;
        };
        let shared = &self.shared;
        shared.record(|metrics| metrics.in_use(false));
        if !instance.is_sound() {
            shared.record(|metrics| metrics.ended(Some(instance.discard_reason())));
            return;
        }
        if shared.isolation == Isolation::Pool {
            let mut idle = lock(&shared.idle);
            if idle.len() < shared.setup.limits.warm {
                idle.push(instance);
                shared.record(|metrics| metrics.idle(true));
                return;
            }
        }
        shared.record(|metrics| metrics.ended(None));
    }
}
