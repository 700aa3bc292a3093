//! One plugin instance and the calls into it, each under a deadline.

use super::bindings::authenticator::exports::piston::handler::authentication::{
    AuthenticatorInfo, Refusal, RequestHead,
};
use super::bindings::authenticator::{Authenticator, AuthenticatorPre};
use super::bindings::exports::piston::handler::handler::Response;
use super::bindings::piston::handler::types::{GuestError, PluginInfo, Principal, Request};
use super::bindings::{Plugin, PluginPre};
use super::state::HostState;
use std::future::Future;
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

/// What a component exports, as the host calls it: a handler plugin or an
/// authenticator plugin.
pub trait Guest: Sized + Send + 'static {
    /// The component, linked and checked to export the world.
    type Pre: Send + Sync + 'static;

    /// Instantiates `pre` in `store`.
    fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> impl Future<Output = wasmtime::Result<Self>> + Send;
}

impl Guest for Plugin {
    type Pre = PluginPre<HostState>;

    async fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Plugin> {
        pre.instantiate_async(store).await
    }
}

impl Guest for Authenticator {
    type Pre = AuthenticatorPre<HostState>;

    async fn instantiate(
        pre: &Self::Pre,
        store: &mut Store<HostState>,
    ) -> wasmtime::Result<Authenticator> {
        pre.instantiate_async(store).await
    }
}

/// A live instance of a plugin, serving one call at a time.
pub struct Instance<G = Plugin> {
    store: Store<HostState>,
    guest: G,
    timeout: Duration,
}

impl<G: Guest> Instance<G> {
    /// Instantiates `pre` with `state`. Start functions run under the same deadline as
    /// any call.
    pub async fn new(
        engine: &Engine,
        pre: &G::Pre,
        state: HostState,
        timeout: Duration,
    ) -> Result<Instance<G>, CallError> {
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limits());
        store.epoch_deadline_callback(|context| {
            if Instant::now() >= context.data().deadline() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        store.data_mut().begin_call(timeout, None);
        store.set_epoch_deadline(1);
        let guest = G::instantiate(pre, &mut store)
            .await
            .map_err(|error| CallError::new(error, &store, timeout))?;
        Ok(Instance {
            store,
            guest,
            timeout,
        })
    }

    /// Prepares the next call: its deadline, and the request its log lines belong to.
    fn arm(&mut self, request_id: Option<&str>) {
        self.store.data_mut().begin_call(self.timeout, request_id);
        self.store.set_epoch_deadline(1);
    }
}

impl Instance<Authenticator> {
    /// Calls the authenticator's `describe`.
    pub async fn describe_authenticator(&mut self) -> Result<AuthenticatorInfo, CallError> {
        self.arm(None);
        let authentication = self.guest.piston_handler_authentication();
        authentication
            .call_describe(&mut self.store)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Calls `authenticate` for the request with id `request_id`.
    pub async fn authenticate(
        &mut self,
        head: &RequestHead,
        request_id: &str,
    ) -> Result<Result<Option<Principal>, Refusal>, CallError> {
        self.arm(Some(request_id));
        let authentication = self.guest.piston_handler_authentication();
        authentication
            .call_authenticate(&mut self.store, head)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }
}

impl Instance<Plugin> {
    /// Calls `describe`.
    pub async fn describe(&mut self) -> Result<PluginInfo, CallError> {
        self.arm(None);
        let handler = self.guest.piston_handler_handler();
        handler
            .call_describe(&mut self.store)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Calls `handle` for the request with id `request_id` (its log lines carry it).
    pub async fn handle(
        &mut self,
        request: &Request,
        request_id: &str,
    ) -> Result<Result<Response, GuestError>, CallError> {
        self.arm(Some(request_id));
        let handler = self.guest.piston_handler_handler();
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
        self.arm(None);
        let handler = self.guest.piston_handler_handler();
        handler
            .item_stream()
            .call_next(&mut self.store, stream, max)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }

    /// Releases a stream the guest returned.
    pub async fn drop_stream(&mut self, stream: ResourceAny) -> Result<(), CallError> {
        self.arm(None);
        stream
            .resource_drop_async(&mut self.store)
            .await
            .map_err(|error| CallError::new(error, &self.store, self.timeout))
    }
}
