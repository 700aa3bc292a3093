//! Item streams: large listings handed to the host a batch at a time.

use crate::bindings::exports::piston::handler::handler::GuestItemStream;
use crate::bindings::piston::handler::types::GuestError;
use serde::Serialize;
use std::cell::RefCell;

type Items = Box<dyn Iterator<Item = Result<String, String>>>;

/// The guest side of an `item-stream`: an iterator the host drains with `next`.
pub struct ItemStream {
    items: RefCell<Items>,
}

impl ItemStream {
    pub(crate) fn new<I, T>(items: I) -> ItemStream
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
        T: Serialize,
    {
        let items = items.into_iter().map(|item| {
            serde_json::to_string(&item)
                .map_err(|error| format!("cannot serialize a streamed item: {error}"))
        });
        ItemStream {
            items: RefCell::new(Box::new(items)),
        }
    }
}

impl ItemStream {
    pub(crate) fn fallible<I, T>(items: I) -> ItemStream
    where
        I: IntoIterator<Item = crate::Result<T>>,
        I::IntoIter: 'static,
        T: Serialize,
    {
        let items = items.into_iter().map(|item| match item {
            Ok(item) => serde_json::to_string(&item)
                .map_err(|error| format!("cannot serialize a streamed item: {error}")),
            Err(error) => Err(error.to_string()),
        });
        ItemStream {
            items: RefCell::new(Box::new(items)),
        }
    }
}

impl GuestItemStream for ItemStream {
    fn next(&self, max: u32) -> Result<Vec<String>, GuestError> {
        let mut items = self.items.borrow_mut();
        let mut batch = Vec::with_capacity(max.min(1024) as usize);
        for item in items.by_ref().take(max as usize) {
            batch.push(item.map_err(|message| GuestError {
                message,
                trace: None,
            })?);
        }
        Ok(batch)
    }
}
