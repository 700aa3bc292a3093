//! One plugin instance and the calls into it, each under a deadline.

use super::bindings::exports::piston::handler::handler::Response;
use super::bindings::piston::handler::types::{GuestError, PluginInfo, Request};
use super::bindings::{Plugin, PluginPre};
use super::state::HostState;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceAny;
use wasmtime::{Engine, Store, Trap, UpdateDeadline, WasmBacktrace};

/// Why a call into a guest did not return normally. The instance must be discarded.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its deadline and was interrupted.
    #[error("the plugin did not answer within {0:?}")]
    Timeout(Duration),
    /// The guest trapped (a panic, an out-of-bounds access, the memory limit, ...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
}

impl CallError {
    /// Sorts a wasmtime error into a timeout or a trap. The trap's message is one line:
    /// its cause, and the guest's last words on stderr (a panic message, the end of a
    /// traceback); the wasm backtrace goes to the debug log.
    fn new(error: wasmtime::Error, store: &Store<HostState>, timeout: Duration) -> CallError {
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout(timeout);
        }
        if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
            tracing::debug!("wasm backtrace:\n{backtrace}");
        }
        let mut message = error.root_cause().to_string();
        let stderr = store.data().stderr().tail();
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(&stderr.join(" | "));
        }
        CallError::Trap(message)
    }
}

/// A live instance of a plugin, serving one call at a time.
pub struct Instance {
    store: Store<HostState>,
    plugin: Plugin,
    timeout: Duration,
}

impl Instance {
    /// Instantiates `pre` with `state`. Start functions run under the same deadline as
    /// any call.
    pub async fn new(
        engine: &Engine,
        pre: &PluginPre<HostState>,
        state: HostState,
        timeout: Duration,
    ) -> Result<Instance, CallError> {
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limits());
        store.epoch_deadline_callback(|context| {
            if Instant::now() >= context.data().deadline {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        arm(&mut store, timeout);
        let plugin = pre
            .instantiate_async(&mut store)
            .await
            .map_err(|error| CallError::new(error, &store, timeout))?;
        Ok(Instance {
            store,
            plugin,
            timeout,
        })
    }

    /// Calls `describe`.
    pub async fn describe(&mut self) -> Result<PluginInfo, CallError> {
        arm(&mut self.store, self.timeout);
        let handler = self.plugin.piston_handler_handler();
        handler
            .call_describe(&mut self.store)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Calls `handle`.
    pub async fn handle(
        &mut self,
        request: &Request,
    ) -> Result<Result<Response, GuestError>, CallError> {
        arm(&mut self.store, self.timeout);
        let handler = self.plugin.piston_handler_handler();
        handler
            .call_handle(&mut self.store, request)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Pulls up to `max` items from a stream the guest returned; each pull has the
    /// full call deadline.
    pub async fn next_items(
        &mut self,
        stream: ResourceAny,
        max: u32,
    ) -> Result<Result<Vec<String>, GuestError>, CallError> {
        arm(&mut self.store, self.timeout);
        let handler = self.plugin.piston_handler_handler();
        handler
            .item_stream()
            .call_next(&mut self.store, stream, max)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Releases a stream the guest returned.
    pub async fn drop_stream(&mut self, stream: ResourceAny) -> Result<(), CallError> {
        arm(&mut self.store, self.timeout);
        stream
            .resource_drop_async(&mut self.store)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }
}

/// Sets the deadline for the next call.
fn arm(store: &mut Store<HostState>, timeout: Duration) {
    store.data().stderr().forget();
    store.data_mut().deadline = Instant::now() + timeout;
    store.set_epoch_deadline(1);
}
