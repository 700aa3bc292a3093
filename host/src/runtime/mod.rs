//! Running plugins: the wasmtime engine, compiling and linking components, instances
//! under deadlines and memory limits, and the host services plugins import.
//!
//! The flow for one plugin file: [`Runtime::compile`] (through the on-disk
//! [`CompileCache`]) → [`Runtime::link`] (checks its imports against what Piston
//! provides) → [`Runtime::describe`] (a throwaway instance) → an [`InstancePool`] that
//! serves requests. What the plugin *says* it serves is the registry's business.

mod bindings;
mod cache;
mod engine;
mod guest_log;
mod instance;
mod plugin_data;
mod pool;
mod services;
mod settings;
mod state;

pub use self::bindings::authenticator::exports::piston::handler::authentication as auth_wit;
pub use self::bindings::authenticator::{Authenticator as AuthenticatorGuest, AuthenticatorPre};
pub use self::bindings::exports::piston::handler::handler::{Body, Response};
pub use self::bindings::piston::handler::types as wit;
pub use self::bindings::{Plugin, PluginPre};
pub use self::cache::CacheOutcome;
pub use self::engine::{Allocator, EngineLimits};
pub use self::guest_log::LogLimits;
pub use self::instance::{CallError, Guest};
pub use self::plugin_data::{PluginData, PluginServices};
pub use self::pool::{
    Checkout, CheckoutError, InstanceLimits, InstancePool, InstanceSetup, Isolation,
};
pub use self::settings::PluginSettings;
pub(crate) use self::settings::{InstanceOverrides, LimitsSection};
pub use self::state::HostState;
pub use wasmtime::component::ResourceAny;

use self::cache::CompileCache;
use self::engine::EpochTicker;
use std::path::Path;
use wasmtime::Engine;
use wasmtime::component::{Component, Linker};

/// The WIT package plugins implement (`wit/`), and the version this host speaks. A
/// plugin built for another version is refused at load, by name.
const CONTRACT_PREFIX: &str = "piston:handler";
const CONTRACT_VERSION: &str = "0.2.0";
const CONTRACT: &str = "piston:handler@0.2.0";

/// Why a plugin file could not be loaded. Shown as the plugin's status.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is not a WebAssembly component.
    #[error("{0}")]
    NotAComponent(String),
    /// Compilation failed.
    #[error("does not compile: {0}")]
    Compile(String),
    /// The component imports something Piston does not provide.
    #[error("cannot be linked: {0}")]
    Link(String),
    /// Instantiating it or calling `describe` failed.
    #[error("describe failed: {0}")]
    Describe(#[from] CallError),
}

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// The engine could not be configured.
    #[error("cannot create the WebAssembly engine: {0}")]
    Engine(String),
    /// The compile cache directory is unusable.
    #[error("cannot use the compile cache at {path}: {error}")]
    Cache {
        /// The directory.
        path: String,
        /// What went wrong.
        error: std::io::Error,
    },
}

/// A linked component, by what it exports.
pub enum Linked {
    /// A handler plugin.
    Handler(PluginPre<HostState>),
    /// An authenticator plugin.
    Authenticator(AuthenticatorPre<HostState>),
}

/// A compiled component, and whether it came from the cache.
pub struct Compiled {
    /// The component.
    pub component: Component,
    /// Cache hit or fresh compilation.
    pub outcome: CacheOutcome,
}

/// The engine, the linker with Piston's host services, and the compile cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<HostState>,
    cache: CompileCache,
    allocator: Allocator,
    _ticker: EpochTicker,
}

impl Runtime {
    /// Starts the engine (pooling allocator if the address space allows) and its epoch
    /// ticker, with compiled components cached under `cache_dir`.
    pub fn new(limits: EngineLimits, cache_dir: &Path) -> Result<Runtime, RuntimeError> {
        let engine_error = |error: wasmtime::Error| RuntimeError::Engine(format!("{error:#}"));
        let (engine, allocator) = engine::build(limits).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(engine_error)?;
        bindings::add_services_to_linker(&mut linker).map_err(engine_error)?;
        let cache = CompileCache::new(cache_dir, &engine).map_err(|error| RuntimeError::Cache {
            path: cache_dir.display().to_string(),
            error,
        })?;
        let ticker = EpochTicker::start(engine.clone()).map_err(|error| {
            RuntimeError::Engine(format!("cannot start the epoch ticker: {error}"))
        })?;
        Ok(Runtime {
            engine,
            linker,
            cache,
            allocator,
            _ticker: ticker,
        })
    }

    /// Which instance allocator the engine uses.
    pub fn allocator(&self) -> &Allocator {
        &self.allocator
    }

    /// Compiles `wasm` (or loads it from the compile cache).
    pub fn compile(&self, wasm: &[u8]) -> Result<Compiled, LoadError> {
        check_component_header(wasm)?;
        let (component, outcome) = self
            .cache
            .component(&self.engine, wasm)
            .map_err(|error| LoadError::Compile(format!("{error:#}")))?;
        Ok(Compiled { component, outcome })
    }

    /// Links a component against Piston's host services, as whichever kind of plugin
    /// its exports make it.
    pub fn link(&self, component: &Component) -> Result<Linked, LoadError> {
        let pre = self
            .linker
            .instantiate_pre(component)
            .map_err(|error| LoadError::Link(format!("{error:#}")))?;
        let handler_error = match PluginPre::new(pre.clone()) {
            Ok(handler) => return Ok(Linked::Handler(handler)),
            Err(error) => error,
        };
        match AuthenticatorPre::new(pre) {
            Ok(authenticator) => Ok(Linked::Authenticator(authenticator)),
            Err(_) => Err(LoadError::Link(match self.foreign_contract(component) {
                Some(export) => format!(
                    "it was built for {export}, not this host's {CONTRACT}: rebuild it \
                         with the current SDK"
                ),
                None => format!(
                    "it exports neither {CONTRACT_PREFIX}/handler@{CONTRACT_VERSION} nor \
                         {CONTRACT_PREFIX}/authentication@{CONTRACT_VERSION} \
                         ({handler_error:#})"
                ),
            })),
        }
    }

    /// A `piston:handler` export of another contract version, if the component has one.
    fn foreign_contract(&self, component: &Component) -> Option<String> {
        let exports = component.component_type();
        exports
            .exports(&self.engine)
            .map(|(name, _)| name)
            .find(|name| {
                name.starts_with(CONTRACT_PREFIX)
                    && !name.ends_with(&format!("@{CONTRACT_VERSION}"))
            })
            .map(str::to_owned)
    }

    /// Instantiates the plugin once, without access to the store or settings, and asks
    /// it what it serves, within the setup's deadline (a `describe` that hangs fails the
    /// load).
    pub async fn describe(
        &self,
        pre: &PluginPre<HostState>,
        setup: &InstanceSetup,
    ) -> Result<wit::PluginInfo, LoadError> {
        let mut instance = InstancePool::<Plugin>::one_off(setup, &self.engine, pre).await?;
        Ok(instance.describe().await?)
    }

    /// Instantiates the authenticator once and asks what it is.
    pub async fn describe_authenticator(
        &self,
        pre: &AuthenticatorPre<HostState>,
        setup: &InstanceSetup,
    ) -> Result<auth_wit::AuthenticatorInfo, LoadError> {
        let mut instance =
            InstancePool::<AuthenticatorGuest>::one_off(setup, &self.engine, pre).await?;
        Ok(instance.describe_authenticator().await?)
    }

    /// A pool of instances for a described plugin.
    pub fn pool<G: Guest>(
        &self,
        pre: G::Pre,
        setup: InstanceSetup,
        isolation: Isolation,
    ) -> InstancePool<G> {
        InstancePool::new(self.engine.clone(), pre, setup, isolation)
    }
}

/// Tells apart the usual wrong files before the compiler gives a lower-level error.
fn check_component_header(wasm: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    const COMPONENT: &[u8] = &[0x0d, 0x00, 0x01, 0x00];
    const CORE_MODULE: &[u8] = &[0x01, 0x00, 0x00, 0x00];
    if wasm.len() < 8 || &wasm[..4] != MAGIC {
        return Err(LoadError::NotAComponent(
            "is not a WebAssembly file (no `\\0asm` header)".into(),
        ));
    }
    match &wasm[4..8] {
        COMPONENT => Ok(()),
        CORE_MODULE => Err(LoadError::NotAComponent(
            "is a core WebAssembly module, not a component: build it for the \
             `wasm32-wasip2` target (or wrap it with `wasm-tools component new`)"
                .into(),
        )),
        _ => Err(LoadError::NotAComponent(
            "has an unknown WebAssembly version or layer".into(),
        )),
    }
}
