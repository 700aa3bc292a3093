//! One plugin instance and the calls into it, each under a deadline and a budget for
//! what it may hand the host.
//!
//! Every call — instantiation, `describe`, `handle`, a stream's `next`, a resource
//! drop, `authenticate` — runs under two clocks: the epoch deadline interrupts a guest
//! that computes past it, and a wall-clock timeout ends one that waits (a sleep, a
//! blocked host call). Either way the call is abandoned and the instance is unsound:
//! it is never used again. What a call returns (strings, lists) is copied into host
//! memory only within its byte budget (wasmtime's hostcall fuel), so a guest cannot
//! make the host allocate more than that, however its answer is laid out.

use super::bindings::authenticator::exports::piston::handler::authentication::{
    AuthenticatorInfo, Refusal, RequestHead,
};
use super::bindings::authenticator::{Authenticator, AuthenticatorPre};
use super::bindings::exports::piston::handler::handler::Response;
use super::bindings::piston::handler::types::{GuestError, PluginInfo, Principal, Request};
use super::bindings::{Plugin, PluginPre};
use super::state::HostState;
use crate::telemetry::Discard;
use std::future::Future;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceAny;
use wasmtime::{Engine, Store, Trap, UpdateDeadline, WasmBacktrace};

/// How much a `describe` answer may copy into the host.
pub const DESCRIBE_BYTES: usize = 4 * 1024 * 1024;

/// How much an authenticator's answer may copy into the host.
pub const AUTHENTICATE_BYTES: usize = 1024 * 1024;

/// What a `handle` call may copy into the host beyond its answer's body: headers,
/// problem details, and what it passes to the store in one host call (a value of up to
/// the store's largest).
const CALL_OVERHEAD: usize = crate::store::MAX_VALUE_BYTES + 1024 * 1024;

/// Why a call into a guest did not return normally, or returned an answer the host
/// cannot trust. The instance must be discarded unless it is still sound.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The call ran past its deadline and was abandoned.
    #[error("the plugin did not answer within {0:?}")]
    Timeout(Duration),
    /// The guest trapped (a panic, an out-of-bounds access, ...).
    #[error("the plugin trapped: {0}")]
    Trap(String),
    /// The guest asked for more memory than its limit.
    #[error("the plugin ran out of memory: {0}")]
    Memory(String),
    /// The guest handed the host more data in one call than the call allows.
    #[error("the plugin handed over more than {0} bytes in one call")]
    TooMuchData(usize),
    /// The guest returned, but a store call it made could not reach the store, so its
    /// answer may be wrong. The instance is sound.
    #[error("the plugin's store is unreachable: {0}")]
    StoreUnavailable(String),
}

impl CallError {
    /// Sorts a wasmtime error into a timeout, a limit or a trap. The message is one
    /// line: its cause, and the guest's last words on stderr (a panic message, the end
    /// of a traceback); the wasm backtrace goes to the debug log.
    fn new(error: wasmtime::Error, store: &Store<HostState>, budget: &Budget) -> CallError {
        if error.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
            return CallError::Timeout(budget.timeout);
        }
        if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
            tracing::debug!("wasm backtrace:\n{backtrace}");
        }
        let cause = error.root_cause().to_string();
        // wasmtime's hostcall fuel error has no public type to match.
        if cause.contains("fuel allocated for hostcalls has been exhausted") {
            return CallError::TooMuchData(budget.bytes);
        }
        let mut message = cause;
        let stderr = store.data().stderr().tail();
        if !stderr.is_empty() {
            message.push_str("; guest stderr: ");
            message.push_str(&stderr.join(" | "));
        }
        if store.data().memory_refused() {
            CallError::Memory(message)
        } else {
            CallError::Trap(message)
        }
    }
}

/// What one call may take: time, and bytes copied from the guest into the host.
#[derive(Debug, Clone, Copy)]
struct Budget {
    timeout: Duration,
    bytes: usize,
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
    calls: Calls,
    guest: G,
    /// The largest body a `handle` answer (or a batch of stream items) may carry.
    output_bytes: usize,
}

/// An instance's store, and whether every call made in it returned normally.
struct Calls {
    store: Store<HostState>,
    timeout: Duration,
    /// False from the start of a call until it returns normally: an instance whose
    /// call was abandoned (timed out, trapped, or its future dropped) stays unsound.
    sound: bool,
    /// How the last call failed, when it ended in an error the instance cannot survive.
    failure: Option<Discard>,
}

impl Calls {
    /// Prepares the next call: its deadline, its byte budget, and the request its log
    /// lines belong to. The instance is unsound until the call returns normally.
    fn arm(&mut self, bytes: usize, request_id: Option<&str>) -> Budget {
        let budget = Budget {
            timeout: self.timeout,
            bytes,
        };
        self.sound = false;
        self.failure = None;
        self.store.data_mut().begin_call(budget.timeout, request_id);
        self.store.set_epoch_deadline(1);
        self.store.set_hostcall_fuel(budget.bytes);
        budget
    }

    /// The result of a call that ended one way or another.
    fn settle<R>(
        &mut self,
        outcome: Result<wasmtime::Result<R>, tokio::time::error::Elapsed>,
        budget: &Budget,
    ) -> Result<R, CallError> {
        self.store.data_mut().end_call();
        match outcome {
            Ok(Ok(value)) => {
                self.sound = true;
                match self.store.data_mut().take_store_outage() {
                    Some(error) => Err(CallError::StoreUnavailable(error)),
                    None => Ok(value),
                }
            }
            Ok(Err(error)) => Err(self.failed(CallError::new(error, &self.store, budget))),
            Err(_) => Err(self.failed(CallError::Timeout(budget.timeout))),
        }
    }

    /// Notes why the call failed, for the discard it leads to.
    fn failed(&mut self, error: CallError) -> CallError {
        self.failure = Some(match error {
            CallError::Timeout(_) => Discard::timeout,
            CallError::Memory(_) => Discard::memory,
            CallError::TooMuchData(_) => Discard::oversize,
            CallError::Trap(_) | CallError::StoreUnavailable(_) => Discard::trap,
        });
        error
    }
}

/// Runs `call` with `bytes` of output budget under the instance's wall-clock timeout,
/// and turns its outcome into the call's result. A macro rather than a method: the
/// call borrows two fields of the instance, the guest and the store, at once.
macro_rules! guarded {
    ($instance:ident, $bytes:expr, $request_id:expr, $call:expr) => {{
        let budget = $instance.calls.arm($bytes, $request_id);
        let outcome = tokio::time::timeout(budget.timeout, $call).await;
        $instance.calls.settle(outcome, &budget)
    }};
}

impl<G: Guest> Instance<G> {
    /// Instantiates `pre` with `state`. Start functions run under the same deadline as
    /// any call.
    pub async fn new(
        engine: &Engine,
        pre: &G::Pre,
        state: HostState,
        timeout: Duration,
        output_bytes: usize,
    ) -> Result<Instance<G>, CallError> {
        let mut store = Store::new(engine, state);
        store.limiter(|state| state.limiter());
        store.epoch_deadline_callback(|context| {
            if Instant::now() >= context.data().deadline() {
                Ok(UpdateDeadline::Interrupt)
            } else {
                Ok(UpdateDeadline::Yield(1))
            }
        });
        let mut calls = Calls {
            store,
            timeout,
            sound: false,
            failure: None,
        };
        let budget = calls.arm(DESCRIBE_BYTES, None);
        let started = tokio::time::timeout(timeout, G::instantiate(pre, &mut calls.store)).await;
        let guest = calls.settle(started, &budget)?;
        Ok(Instance {
            calls,
            guest,
            output_bytes,
        })
    }

    /// Whether the instance may serve another call: its last call returned normally.
    pub fn is_sound(&self) -> bool {
        self.calls.sound
    }

    /// Marks the instance as not to be reused (it holds something the host gave up on).
    pub fn discard(&mut self) {
        self.calls.sound = false;
    }

    /// Why an unsound instance is thrown away: how its last call failed, or, when the
    /// call never ended (its future was dropped) or the host gave up on what it holds,
    /// abandoned.
    pub fn discard_reason(&self) -> Discard {
        self.calls.failure.unwrap_or(Discard::abandoned)
    }
}

impl Instance<Authenticator> {
    /// Calls the authenticator's `describe`.
    pub async fn describe_authenticator(&mut self) -> Result<AuthenticatorInfo, CallError> {
        guarded!(
            self,
            DESCRIBE_BYTES,
            None,
            self.guest
                .piston_handler_authentication()
                .call_describe(&mut self.calls.store)
        )
    }

    /// Calls `authenticate` for the request with id `request_id`.
    pub async fn authenticate(
        &mut self,
        head: &RequestHead,
        request_id: &str,
    ) -> Result<Result<Option<Principal>, Refusal>, CallError> {
        guarded!(
            self,
            AUTHENTICATE_BYTES,
            Some(request_id),
            self.guest
                .piston_handler_authentication()
                .call_authenticate(&mut self.calls.store, head)
        )
    }
}

impl Instance<Plugin> {
    /// Calls `describe`.
    pub async fn describe(&mut self) -> Result<PluginInfo, CallError> {
        guarded!(
            self,
            DESCRIBE_BYTES,
            None,
            self.guest
                .piston_handler_handler()
                .call_describe(&mut self.calls.store)
        )
    }

    /// Calls `handle` for the request with id `request_id` (its log lines carry it).
    pub async fn handle(
        &mut self,
        request: &Request,
        request_id: &str,
    ) -> Result<Result<Response, GuestError>, CallError> {
        guarded!(
            self,
            self.output_bytes.saturating_add(CALL_OVERHEAD),
            Some(request_id),
            self.guest
                .piston_handler_handler()
                .call_handle(&mut self.calls.store, request)
        )
    }

    /// Pulls up to `max` items from a stream the guest returned; each pull has the
    /// full call deadline and output budget.
    pub async fn next_items(
        &mut self,
        stream: ResourceAny,
        max: u32,
    ) -> Result<Result<Vec<String>, GuestError>, CallError> {
        guarded!(
            self,
            self.output_bytes.saturating_add(CALL_OVERHEAD),
            None,
            self.guest.piston_handler_handler().item_stream().call_next(
                &mut self.calls.store,
                stream,
                max
            )
        )
    }

    /// Releases a stream the guest returned.
    pub async fn drop_stream(&mut self, stream: ResourceAny) -> Result<(), CallError> {
        guarded!(
            self,
            DESCRIBE_BYTES,
            None,
            stream.resource_drop_async(&mut self.calls.store)
        )
    }

    /// The largest body one answer (or one batch of stream items) may carry.
    pub fn output_bytes(&self) -> usize {
        self.output_bytes
    }
}
