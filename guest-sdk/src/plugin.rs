//! The machinery behind `export_plugin!`: describing the plugin and routing each call
//! to the resource it names. Public only for the macro.

use crate::bindings::exports::piston::handler::handler as wit;
use crate::bindings::piston::handler::types::{
    GuestError, PluginInfo, Request as WitRequest, ResourceSpec,
};
use crate::resource::dispatch;
use crate::{Request, Resource, Response, Result};

pub use crate::stream::ItemStream;

/// The spec `R` describes, with its allowed methods filled in.
pub fn spec_of<R: Resource>() -> ResourceSpec {
    R::spec().finish(R::IMPLEMENTED, R::VERB_DOCS)
}

/// The plugin's description, from its crate metadata and its resources' specs.
pub fn plugin_info(
    name: &str,
    version: &str,
    description: &str,
    resources: Vec<ResourceSpec>,
) -> PluginInfo {
    PluginInfo {
        name: name.to_owned(),
        version: version.to_owned(),
        description: description.to_owned(),
        resources,
    }
}

trait Dispatch {
    fn dispatch(&self, req: &Request) -> Result<Response>;
}

impl<R: Resource> Dispatch for R {
    fn dispatch(&self, req: &Request) -> Result<Response> {
        dispatch(self, req)
    }
}

/// One resource value and the name requests use to reach it.
pub struct Entry {
    name: String,
    resource: Box<dyn Dispatch>,
}

impl Entry {
    /// Creates the resource's value, once per plugin instance.
    pub fn new<R: Resource + Default>() -> Entry {
        Entry {
            name: R::spec().name().to_owned(),
            resource: Box::new(R::default()),
        }
    }
}

/// The plugin's resources, looked up by name for each request.
pub struct Resources {
    entries: Vec<Entry>,
}

impl Resources {
    /// Holds the given resources.
    pub fn new(entries: Vec<Entry>) -> Resources {
        Resources { entries }
    }

    /// Answers one request from the host.
    pub fn handle(&self, request: WitRequest) -> core::result::Result<wit::Response, GuestError> {
        let req = Request::new(request);
        let Some(entry) = self
            .entries
            .iter()
            .find(|entry| entry.name == req.resource())
        else {
            return Err(GuestError {
                message: format!("this plugin has no resource named `{}`", req.resource()),
                trace: None,
            });
        };
        match entry.resource.dispatch(&req) {
            Ok(response) => Ok(response.into_wit()),
            Err(error) => error.into_wit(),
        }
    }
}

/// Exports a plugin serving the given resources (types implementing [`Resource`] and
/// `Default`). The plugin's name, version and description come from its `Cargo.toml`;
/// `name = "..."` first names it otherwise (a crate `blog-plugin` serving as `blog`,
/// the builds of one plugin from crates of different names).
///
/// ```ignore
/// piston_guest::export_plugin!(BlogPosts, BlogPost);
/// piston_guest::export_plugin!(name = "blog", BlogPosts, BlogPost);
/// ```
///
/// [`Resource`]: crate::Resource
#[macro_export]
macro_rules! export_plugin {
    (name = $name:expr, $($resource:ty),+ $(,)?) => {
        #[doc(hidden)]
        pub struct __PistonPlugin;

        impl $crate::bindings::exports::piston::handler::handler::Guest for __PistonPlugin {
            type ItemStream = $crate::__private::ItemStream;

            fn describe() -> $crate::bindings::piston::handler::types::PluginInfo {
                $crate::__private::plugin_info(
                    $name,
                    ::core::env!("CARGO_PKG_VERSION"),
                    ::core::env!("CARGO_PKG_DESCRIPTION"),
                    ::std::vec![$($crate::__private::spec_of::<$resource>()),+],
                )
            }

            fn handle(
                request: $crate::bindings::piston::handler::types::Request,
            ) -> ::core::result::Result<
                $crate::bindings::exports::piston::handler::handler::Response,
                $crate::bindings::piston::handler::types::GuestError,
            > {
                ::std::thread_local! {
                    static RESOURCES: $crate::__private::Resources =
                        $crate::__private::Resources::new(::std::vec![
                            $($crate::__private::Entry::new::<$resource>()),+
                        ]);
                }
                RESOURCES.with(|resources| resources.handle(request))
            }
        }

        $crate::bindings::__export_plugin_world!(__PistonPlugin with_types_in $crate::bindings);
    };
    ($($resource:ty),+ $(,)?) => {
        $crate::export_plugin!(name = ::core::env!("CARGO_PKG_NAME"), $($resource),+);
    };
}
