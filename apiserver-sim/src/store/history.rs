//! The event history: every committed change, newest last, trimmed to a limit. A watch
//! resumes from it and a list at an older resourceVersion (an exact list, a continue
//! token) is rebuilt from it by undoing the newer events.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::Value;

use super::{ObjKey, Objects};
use crate::error::GroupResource;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

/// One committed change. `object` is the new state (the last state, with the deletion's
/// resourceVersion, for `Deleted`); `prev` the state before it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub gr: GroupResource,
    pub key: ObjKey,
    pub kind: EventType,
    pub object: Arc<Value>,
    pub prev: Option<Arc<Value>>,
}

pub struct History {
    events: VecDeque<Arc<Event>>,
    limit: usize,
    /// Every event after this resourceVersion is kept.
    floor: u64,
}

impl History {
    pub fn new(limit: usize) -> Self {
        History {
            events: VecDeque::new(),
            limit: limit.max(1),
            floor: 0,
        }
    }

    pub fn floor(&self) -> u64 {
        self.floor
    }

    pub fn push(&mut self, event: Arc<Event>) {
        self.events.push_back(event);
        while self.events.len() > self.limit {
            if let Some(old) = self.events.pop_front() {
                self.floor = old.rv;
            }
        }
    }

    pub fn compact(&mut self, rv: u64) {
        self.events.clear();
        self.floor = rv;
    }

    pub fn since(&self, gr: &GroupResource, rv: u64) -> Vec<Arc<Event>> {
        self.events
            .iter()
            .filter(|e| e.rv > rv && &e.gr == gr)
            .cloned()
            .collect()
    }

    /// Undo, newest first, every event of `gr` after `rv`.
    pub fn rewind(&self, gr: &GroupResource, rv: u64, objects: &mut Objects) {
        for e in self.events.iter().rev().take_while(|e| e.rv > rv) {
            if &e.gr != gr {
                continue;
            }
            match (&e.kind, &e.prev) {
                (EventType::Added, _) | (_, None) => {
                    objects.remove(&e.key);
                }
                (_, Some(prev)) => {
                    objects.insert(e.key.clone(), prev.clone());
                }
            }
        }
    }
}
