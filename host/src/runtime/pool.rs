//! Warm instances per plugin, reused one request at a time.
//!
//! Calling a warm instance costs about a microsecond; instantiating one costs tens of
//! microseconds for a Rust guest and a millisecond for a Python one. So by default an
//! instance that finished a call cleanly goes back to its plugin's pool, as
//! django-piston kept one handler object per `Resource`. An instance whose call
//! trapped or timed out is dropped. With [`Isolation::Request`] every request gets a
//! fresh instance and no state survives between requests.

use super::bindings::Plugin;
use super::instance::{CallError, Guest, Instance};
use super::services::PluginServices;
use super::state::HostState;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use std::time::Duration;
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

/// How much one instance may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceLimits {
    /// The memory limit, in bytes.
    pub memory_bytes: usize,
    /// How long any one call may run.
    pub timeout: Duration,
    /// How many idle instances to keep warm.
    pub warm: usize,
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
    /// A new instance of `pre` with this setup.
    pub(super) async fn instantiate<G: Guest>(
        &self,
        engine: &Engine,
        pre: &G::Pre,
    ) -> Result<Instance<G>, CallError> {
        let state = HostState::new(
            self.label.clone(),
            self.services.clone(),
            self.limits.memory_bytes,
        );
        Instance::new(engine, pre, state, self.limits.timeout).await
    }
}

/// A plugin's instances.
pub struct InstancePool<G: Guest = Plugin> {
    engine: Engine,
    pre: G::Pre,
    setup: InstanceSetup,
    isolation: Isolation,
    idle: Mutex<Vec<Instance<G>>>,
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
            engine,
            pre,
            setup,
            isolation,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// A warm instance if there is one, else a new one.
    pub async fn take(&self) -> Result<Instance<G>, CallError> {
        if let Some(instance) = self.lock_idle().pop() {
            return Ok(instance);
        }
        self.instantiate().await
    }

    /// Returns an instance whose last call ended cleanly.
    pub fn recycle(&self, instance: Instance<G>) {
        if self.isolation == Isolation::Pool {
            let mut idle = self.lock_idle();
            if idle.len() < self.setup.limits.warm {
                idle.push(instance);
            }
        }
    }

    /// A new instance, not from the pool.
    async fn instantiate(&self) -> Result<Instance<G>, CallError> {
        self.setup.instantiate(&self.engine, &self.pre).await
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Instance<G>>> {
        // Instances in the list are whole whatever panicked elsewhere.
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
