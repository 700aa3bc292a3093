//! Guest data on its way out: the guest's JSON text read through the request's
//! [`View`] (its field filter and `resource_uri`s), copied event by event into a
//! format's serializer.

use super::filtered::transcode;
use super::resource_uri;
use crate::fields::{FieldFilter, UriTemplate};
use serde::{Serialize, Serializer};

/// What of the guest's data a client sees: the field filter, and how to make
/// `resource_uri`s (the template and the public base URL).
pub struct View<'a> {
    /// The resource's filter, narrowed for this request.
    pub filter: &'a FieldFilter,
    /// The item URI template, if the resource has one and the filter shows it.
    pub uri: Option<(&'a UriTemplate, &'a str)>,
}

impl View<'_> {
    /// Whether the guest's JSON can go out untouched.
    pub(super) fn is_identity(&self) -> bool {
        self.filter.is_identity() && self.uri.is_none()
    }
}

/// Guest JSON on its way out: serializing it copies it, filtered, into the serializer.
pub struct Data<'j, 'v> {
    json: &'j str,
    view: &'v View<'v>,
    item: bool,
}

impl<'j, 'v> Data<'j, 'v> {
    /// A whole answer: an object is an item, and so is each object of a list.
    pub fn document(json: &'j str, view: &'v View<'v>) -> Self {
        Data {
            json,
            view,
            item: false,
        }
    }

    /// One item of a stream.
    pub fn item(json: &'j str, view: &'v View<'v>) -> Self {
        Data {
            json,
            view,
            item: true,
        }
    }
}

impl Serialize for Data<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let shape = self.view.filter.shape();
        match self.view.uri {
            Some((template, base)) if self.item => {
                resource_uri::item(self.json, shape, template, base, serializer)
            }
            Some((template, base)) => {
                resource_uri::document(self.json, shape, template, base, serializer)
            }
            None => transcode(self.json, shape, serializer),
        }
    }
}
