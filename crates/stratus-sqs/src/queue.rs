//! One queue's in-memory state: messages, visibility timers, FIFO groups,
//! deduplication, and the changes a mutation makes (for the store).
//!
//! Standard queues keep a `ready` deque of visible messages and a min-heap of
//! timers (delayed and in-flight messages, keyed by the time they turn visible);
//! FIFO queues keep one deque per message group plus a deque of groups whose
//! head is available. Stale heap/deque entries are skipped by comparing the
//! message's `generation`. Every operation is O(1) amortised per message touched.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use crate::attributes::QueueConfig;
use crate::message::{Msg, MsgState};

pub(crate) const STANDARD_INFLIGHT_LIMIT: usize = 120_000;
pub(crate) const FIFO_INFLIGHT_LIMIT: usize = 20_000;
pub(crate) const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;

/// A change to persist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Put(u64),
    Del(u64),
    Purge,
}

#[derive(Debug, Default)]
pub(crate) struct Group {
    pub queue: VecDeque<u64>,
    pub inflight: u32,
    pub queued: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct DedupEntry {
    pub expires_at: i64,
    pub message_id: [u8; 16],
    pub seq: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct Attempt {
    pub expires_at: i64,
    pub received: Vec<(u64, u64)>,
}

/// Outcome of a delete by receipt handle.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DeleteOutcome {
    Deleted,
    /// The handle is stale or the message is gone: success without effect.
    Ignored,
}

pub(crate) struct QueueState {
    pub cfg: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub last_modified: i64,
    pub last_purge: Option<i64>,
    pub msgs: HashMap<u64, Msg>,
    pub next_id: u64,
    pub last_seq: u64,
    ready: VecDeque<(u64, u32)>,
    timers: BinaryHeap<Reverse<(i64, u64, u32)>>,
    groups: HashMap<Arc<str>, Group>,
    ready_groups: VecDeque<Arc<str>>,
    pub dedup: HashMap<Box<str>, DedupEntry>,
    dedup_order: VecDeque<(i64, Box<str>)>,
    pub attempts: HashMap<Box<str>, Attempt>,
    expiry: VecDeque<(i64, u64)>,
    counts: [usize; 3],
    /// Record changes for the store (durable stores only).
    pub track: bool,
    pub changes: Vec<Change>,
    pub deleted: bool,
}

impl QueueState {
    pub(crate) fn new(cfg: QueueConfig, now_ms: i64, track: bool) -> Self {
        Self {
            cfg,
            tags: BTreeMap::new(),
            created: now_ms / 1000,
            last_modified: now_ms / 1000,
            last_purge: None,
            msgs: HashMap::new(),
            next_id: 1,
            last_seq: 0,
            ready: VecDeque::new(),
            timers: BinaryHeap::new(),
            groups: HashMap::new(),
            ready_groups: VecDeque::new(),
            dedup: HashMap::new(),
            dedup_order: VecDeque::new(),
            attempts: HashMap::new(),
            expiry: VecDeque::new(),
            counts: [0; 3],
            track,
            changes: Vec::new(),
            deleted: false,
        }
    }

    fn record(&mut self, c: Change) {
        if self.track {
            self.changes.push(c);
        }
    }

    pub(crate) fn count_visible(&self) -> usize {
        self.counts[MsgState::Visible as usize]
    }
    pub(crate) fn count_inflight(&self) -> usize {
        self.counts[MsgState::InFlight as usize]
    }
    pub(crate) fn count_delayed(&self) -> usize {
        self.counts[MsgState::Delayed as usize]
    }

    /// Earliest time a timer fires.
    pub(crate) fn next_timer(&self) -> Option<i64> {
        self.timers.peek().map(|Reverse((t, _, _))| *t)
    }

    pub(crate) fn next_seq(&mut self, now_ms: i64) -> u64 {
        let floor = 10_000_000_000_000_000_000u64
            .saturating_add((now_ms.max(0) as u64).saturating_mul(1000));
        self.last_seq = (self.last_seq + 1).max(floor);
        self.last_seq
    }

    fn retention_ms(&self) -> i64 {
        self.cfg.retention_seconds as i64 * 1000
    }

    /// Insert a message with a fresh internal id. `msg.state`/`visible_at` are
    /// honoured as given (Visible, Delayed or InFlight).
    pub(crate) fn insert(&mut self, msg: Msg) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.insert_with_id(id, msg);
        id
    }

    pub(crate) fn insert_with_id(&mut self, id: u64, msg: Msg) {
        self.next_id = self.next_id.max(id + 1);
        let state = msg.state;
        let gen_ = msg.generation;
        let visible_at = msg.visible_at;
        let group = if self.cfg.fifo {
            msg.group().cloned()
        } else {
            None
        };
        self.expiry.push_back((msg.retention_base, id));
        self.counts[state as usize] += 1;
        self.msgs.insert(id, msg);
        if let Some(g) = &group {
            let grp = self.groups.entry(g.clone()).or_default();
            grp.queue.push_back(id);
            if state == MsgState::InFlight {
                grp.inflight += 1;
            }
        }
        match state {
            MsgState::Visible => {
                if let Some(g) = group {
                    self.maybe_queue_group(&g);
                } else {
                    self.ready.push_back((id, gen_));
                }
            }
            _ => self.timers.push(Reverse((visible_at, id, gen_))),
        }
        self.record(Change::Put(id));
    }

    fn maybe_queue_group(&mut self, g: &Arc<str>) {
        let Some(grp) = self.groups.get_mut(g) else {
            return;
        };
        if grp.inflight > 0 || grp.queued {
            return;
        }
        let head_visible = grp
            .queue
            .front()
            .and_then(|id| self.msgs.get(id))
            .is_some_and(|m| m.state == MsgState::Visible);
        if head_visible {
            grp.queued = true;
            self.ready_groups.push_back(g.clone());
        }
    }

    fn set_state(&mut self, id: u64, state: MsgState) {
        if let Some(m) = self.msgs.get_mut(&id) {
            self.counts[m.state as usize] -= 1;
            self.counts[state as usize] += 1;
            m.state = state;
        }
    }

    /// Make a delayed or in-flight message visible now.
    fn make_visible(&mut self, id: u64) {
        let Some(m) = self.msgs.get_mut(&id) else {
            return;
        };
        let was = m.state;
        m.generation = m.generation.wrapping_add(1);
        let gen_ = m.generation;
        let group = if self.cfg.fifo {
            m.group().cloned()
        } else {
            None
        };
        self.set_state(id, MsgState::Visible);
        match group {
            Some(g) => {
                if was == MsgState::InFlight
                    && let Some(grp) = self.groups.get_mut(&g)
                {
                    grp.inflight = grp.inflight.saturating_sub(1);
                }
                self.maybe_queue_group(&g);
            }
            None => self.ready.push_back((id, gen_)),
        }
    }

    /// Move due timers to visible. Returns how many messages turned visible.
    pub(crate) fn promote(&mut self, now: i64) -> usize {
        let mut n = 0;
        while let Some(Reverse((t, id, gen_))) = self.timers.peek().copied() {
            if t > now {
                break;
            }
            self.timers.pop();
            let live = self
                .msgs
                .get(&id)
                .is_some_and(|m| m.generation == gen_ && m.state != MsgState::Visible);
            if live {
                self.make_visible(id);
                n += 1;
            }
        }
        n
    }

    /// Remove a message entirely.
    pub(crate) fn remove(&mut self, id: u64) -> Option<Msg> {
        let m = self.msgs.remove(&id)?;
        self.counts[m.state as usize] -= 1;
        if self.cfg.fifo
            && let Some(g) = m.group().cloned()
        {
            let mut empty = false;
            if let Some(grp) = self.groups.get_mut(&g) {
                if let Some(pos) = grp.queue.iter().position(|x| *x == id) {
                    grp.queue.remove(pos);
                }
                if m.state == MsgState::InFlight {
                    grp.inflight = grp.inflight.saturating_sub(1);
                }
                empty = grp.queue.is_empty();
            }
            if empty {
                if let Some(grp) = self.groups.remove(&g)
                    && grp.queued
                {
                    self.ready_groups.retain(|x| *x != g);
                }
            } else {
                self.maybe_queue_group(&g);
            }
        }
        self.record(Change::Del(id));
        Some(m)
    }

    fn is_expired(&self, m: &Msg, now: i64) -> bool {
        m.retention_base + self.retention_ms() <= now
    }

    /// Pick up to `max` visible messages, in order, and mark them in flight
    /// until `now + visibility_ms`. Messages whose receive would exceed
    /// `max_receive` are removed and returned in `to_dlq` instead.
    pub(crate) fn receive(
        &mut self,
        max: usize,
        visibility_ms: i64,
        now: i64,
        max_receive: Option<u32>,
        to_dlq: &mut Vec<Msg>,
    ) -> Vec<u64> {
        self.promote(now);
        let mut out = Vec::with_capacity(max);
        if self.cfg.fifo {
            while out.len() < max {
                let Some(g) = self.ready_groups.pop_front() else {
                    break;
                };
                let Some(grp) = self.groups.get_mut(&g) else {
                    continue;
                };
                grp.queued = false;
                if grp.inflight > 0 {
                    continue;
                }
                let mut idx = 0;
                while out.len() < max {
                    let Some(&id) = self.groups.get(&g).and_then(|grp| grp.queue.get(idx)) else {
                        break;
                    };
                    let Some(m) = self.msgs.get(&id) else {
                        break;
                    };
                    if m.state != MsgState::Visible {
                        break;
                    }
                    if self.is_expired(m, now) {
                        self.remove(id);
                        continue;
                    }
                    if max_receive.is_some_and(|mr| m.receive_count >= mr) {
                        if let Some(m) = self.remove(id) {
                            to_dlq.push(m);
                        }
                        continue;
                    }
                    self.mark_received(id, visibility_ms, now);
                    if let Some(grp) = self.groups.get_mut(&g) {
                        grp.inflight += 1;
                    }
                    out.push(id);
                    idx += 1;
                }
                // The group may still be available (e.g. only DLQ moves happened).
                self.maybe_queue_group(&g);
            }
        } else {
            while out.len() < max {
                let Some((id, gen_)) = self.ready.pop_front() else {
                    break;
                };
                let Some(m) = self.msgs.get(&id) else {
                    continue;
                };
                if m.generation != gen_ || m.state != MsgState::Visible {
                    continue;
                }
                if self.is_expired(m, now) {
                    self.remove(id);
                    continue;
                }
                if max_receive.is_some_and(|mr| m.receive_count >= mr) {
                    if let Some(m) = self.remove(id) {
                        to_dlq.push(m);
                    }
                    continue;
                }
                self.mark_received(id, visibility_ms, now);
                out.push(id);
            }
        }
        out
    }

    fn mark_received(&mut self, id: u64, visibility_ms: i64, now: i64) {
        self.set_state(id, MsgState::InFlight);
        let Some(m) = self.msgs.get_mut(&id) else {
            return;
        };
        m.receive_count += 1;
        if m.first_receive == 0 {
            m.first_receive = now;
        }
        m.last_receive = now;
        m.nonce = rand::random::<u64>() | 1;
        m.generation = m.generation.wrapping_add(1);
        m.visible_at = now + visibility_ms;
        let entry = Reverse((m.visible_at, id, m.generation));
        self.timers.push(entry);
        self.record(Change::Put(id));
    }

    /// Take up to `max` visible messages out of the queue (message move tasks).
    pub(crate) fn take_visible(&mut self, max: usize, now: i64) -> Vec<Msg> {
        self.promote(now);
        let mut out = Vec::new();
        if self.cfg.fifo {
            while out.len() < max {
                let Some(g) = self.ready_groups.front().cloned() else {
                    break;
                };
                let head = self
                    .groups
                    .get(&g)
                    .and_then(|grp| grp.queue.front().copied());
                match head.and_then(|id| self.msgs.get(&id).map(|m| (id, m.state))) {
                    Some((id, MsgState::Visible)) => {
                        // remove() keeps the group queued while its next head is visible.
                        if let Some(grp) = self.groups.get_mut(&g) {
                            grp.queued = false;
                        }
                        self.ready_groups.pop_front();
                        if let Some(m) = self.remove(id) {
                            out.push(m);
                        }
                    }
                    _ => {
                        self.ready_groups.pop_front();
                        if let Some(grp) = self.groups.get_mut(&g) {
                            grp.queued = false;
                        }
                    }
                }
            }
        } else {
            while out.len() < max {
                let Some((id, gen_)) = self.ready.pop_front() else {
                    break;
                };
                let live = self
                    .msgs
                    .get(&id)
                    .is_some_and(|m| m.generation == gen_ && m.state == MsgState::Visible);
                if live && let Some(m) = self.remove(id) {
                    out.push(m);
                }
            }
        }
        out
    }

    /// Delete by (internal id, nonce).
    pub(crate) fn delete(&mut self, id: u64, nonce: u64) -> DeleteOutcome {
        let Some(m) = self.msgs.get(&id) else {
            return DeleteOutcome::Ignored;
        };
        // FIFO: a stale handle must not delete a message someone else now holds.
        if self.cfg.fifo && m.nonce != nonce {
            return DeleteOutcome::Ignored;
        }
        self.remove(id);
        DeleteOutcome::Deleted
    }

    /// Change the visibility timeout of an in-flight message.
    pub(crate) fn change_visibility(
        &mut self,
        id: u64,
        nonce: u64,
        timeout_secs: i64,
        now: i64,
    ) -> Result<(), VisibilityError> {
        self.promote(now);
        let Some(m) = self.msgs.get_mut(&id) else {
            return Err(VisibilityError::NotInflight);
        };
        if m.state != MsgState::InFlight || m.nonce != nonce {
            return Err(VisibilityError::NotInflight);
        }
        if now + timeout_secs * 1000 > m.last_receive + 43_200_000 {
            return Err(VisibilityError::TooLong);
        }
        if timeout_secs == 0 {
            // Visible from now: the persisted deadline must say so too, or a
            // restart would read the old deadline back as a delay.
            m.visible_at = now;
            self.make_visible(id);
        } else {
            m.generation = m.generation.wrapping_add(1);
            m.visible_at = now + timeout_secs * 1000;
            let entry = Reverse((m.visible_at, id, m.generation));
            self.timers.push(entry);
        }
        self.record(Change::Put(id));
        Ok(())
    }

    /// Remove every message.
    pub(crate) fn purge(&mut self) -> usize {
        let n = self.msgs.len();
        self.msgs.clear();
        self.ready.clear();
        self.timers.clear();
        self.groups.clear();
        self.ready_groups.clear();
        self.expiry.clear();
        self.attempts.clear();
        self.counts = [0; 3];
        self.record(Change::Purge);
        n
    }

    /// Look up a live deduplication entry.
    pub(crate) fn dedup_lookup(&self, key: &str, now: i64) -> Option<&DedupEntry> {
        self.dedup.get(key).filter(|e| e.expires_at > now)
    }

    pub(crate) fn dedup_insert(&mut self, key: Box<str>, entry: DedupEntry) {
        self.dedup_order.push_back((entry.expires_at, key.clone()));
        self.dedup.insert(key, entry);
    }

    /// Background housekeeping: retention expiry, dedup window, attempt ids,
    /// compaction of stale index entries. Returns expired dedup keys.
    pub(crate) fn sweep(&mut self, now: i64) -> Vec<Box<str>> {
        self.promote(now);
        let retention = self.retention_ms();
        while let Some(&(base, id)) = self.expiry.front() {
            match self.msgs.get(&id) {
                None => {
                    self.expiry.pop_front();
                }
                Some(m) if m.retention_base != base => {
                    self.expiry.pop_front();
                }
                Some(_) if base + retention <= now => {
                    self.expiry.pop_front();
                    self.remove(id);
                }
                Some(_) => break,
            }
        }
        let mut expired_keys = Vec::new();
        while let Some((t, _)) = self.dedup_order.front() {
            if *t > now {
                break;
            }
            if let Some((t, key)) = self.dedup_order.pop_front()
                && self
                    .dedup
                    .get(&key)
                    .is_some_and(|e| e.expires_at <= now && e.expires_at == t)
            {
                self.dedup.remove(&key);
                expired_keys.push(key);
            }
        }
        self.attempts.retain(|_, a| a.expires_at > now);
        let live = self.msgs.len();
        if self.expiry.len() > 2 * live + 1024 {
            let msgs = &self.msgs;
            self.expiry
                .retain(|(b, id)| msgs.get(id).is_some_and(|m| m.retention_base == *b));
        }
        if self.timers.len() > 2 * live + 1024 {
            let msgs = &self.msgs;
            self.timers
                .retain(|Reverse((_, id, g))| msgs.get(id).is_some_and(|m| m.generation == *g));
        }
        if self.ready.len() > 2 * live + 1024 {
            let msgs = &self.msgs;
            self.ready
                .retain(|(id, g)| msgs.get(id).is_some_and(|m| m.generation == *g));
        }
        expired_keys
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum VisibilityError {
    NotInflight,
    TooLong,
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::message::MsgExtra;

    fn msg(body: &str, group: Option<&str>, now: i64, delay_ms: i64) -> Msg {
        Msg {
            message_id: crate::message::new_message_id(),
            body: body.into(),
            md5_body: crate::md5::md5_bytes(body.as_bytes()),
            extra: group.map(|g| {
                Box::new(MsgExtra {
                    group_id: Some(g.into()),
                    ..Default::default()
                })
            }),
            sent_at: now,
            retention_base: now,
            visible_at: now + delay_ms,
            first_receive: 0,
            last_receive: 0,
            nonce: 0,
            receive_count: 0,
            generation: 0,
            state: if delay_ms > 0 {
                MsgState::Delayed
            } else {
                MsgState::Visible
            },
        }
    }

    fn bodies(q: &QueueState, ids: &[u64]) -> Vec<String> {
        ids.iter().map(|i| q.msgs[i].body.to_string()).collect()
    }

    #[test]
    fn standard_visibility_cycle() {
        let mut q = QueueState::new(QueueConfig::new(false), 0, false);
        q.insert(msg("a", None, 0, 0));
        q.insert(msg("b", None, 0, 5000));
        let mut dlq = Vec::new();
        let got = q.receive(10, 30_000, 1000, None, &mut dlq);
        assert_eq!(bodies(&q, &got), ["a"]);
        assert_eq!(
            (q.count_visible(), q.count_inflight(), q.count_delayed()),
            (0, 1, 1)
        );
        assert!(q.receive(10, 30_000, 2000, None, &mut dlq).is_empty());
        let got = q.receive(10, 30_000, 5000, None, &mut dlq);
        assert_eq!(bodies(&q, &got), ["b"]);
        // "a" becomes visible again after its timeout.
        let got = q.receive(10, 30_000, 31_000, None, &mut dlq);
        assert_eq!(bodies(&q, &got), ["a"]);
        let id = got[0];
        assert_eq!(q.msgs[&id].receive_count, 2);
        let nonce = q.msgs[&id].nonce;
        assert_eq!(q.change_visibility(id, nonce, 0, 31_500), Ok(()));
        assert_eq!(q.receive(1, 30_000, 31_500, None, &mut dlq), vec![id]);
        let nonce = q.msgs[&id].nonce;
        assert_eq!(
            q.change_visibility(id, nonce, 43_200, 40_000),
            Err(VisibilityError::TooLong)
        );
        assert_eq!(q.delete(id, nonce), DeleteOutcome::Deleted);
        assert_eq!(q.delete(id, nonce), DeleteOutcome::Ignored);
    }

    #[test]
    fn dlq_after_max_receives() {
        let mut q = QueueState::new(QueueConfig::new(false), 0, false);
        q.insert(msg("a", None, 0, 0));
        let mut dlq = Vec::new();
        for i in 0..2 {
            let got = q.receive(1, 0, i, Some(2), &mut dlq);
            assert_eq!(got.len(), 1);
        }
        let got = q.receive(1, 0, 10, Some(2), &mut dlq);
        assert!(got.is_empty());
        assert_eq!(dlq.len(), 1);
        assert_eq!(dlq[0].receive_count, 2);
        assert!(q.msgs.is_empty());
    }

    #[test]
    fn fifo_group_locking_and_order() {
        let mut q = QueueState::new(QueueConfig::new(true), 0, false);
        for (b, g) in [
            ("a1", "A"),
            ("b1", "B"),
            ("a2", "A"),
            ("a3", "A"),
            ("b2", "B"),
        ] {
            q.insert(msg(b, Some(g), 0, 0));
        }
        let mut dlq = Vec::new();
        let got = q.receive(2, 30_000, 1, None, &mut dlq);
        assert_eq!(bodies(&q, &got), ["a1", "a2"]);
        // Group A is locked; B is served.
        let got2 = q.receive(10, 30_000, 2, None, &mut dlq);
        assert_eq!(bodies(&q, &got2), ["b1", "b2"]);
        assert!(q.receive(10, 30_000, 3, None, &mut dlq).is_empty());
        // Deleting a1 alone keeps A locked (a2 in flight).
        let n = q.msgs[&got[0]].nonce;
        q.delete(got[0], n);
        assert!(q.receive(10, 30_000, 4, None, &mut dlq).is_empty());
        let n = q.msgs[&got[1]].nonce;
        q.delete(got[1], n);
        let got3 = q.receive(10, 30_000, 5, None, &mut dlq);
        assert_eq!(bodies(&q, &got3), ["a3"]);
        // After the timeout b1, b2 come back in order.
        let got4 = q.receive(10, 30_000, 40_000, None, &mut dlq);
        assert_eq!(bodies(&q, &got4), ["b1", "b2", "a3"]);
    }

    #[test]
    fn fifo_stale_handle_does_not_delete() {
        let mut q = QueueState::new(QueueConfig::new(true), 0, false);
        q.insert(msg("a", Some("g"), 0, 0));
        let mut dlq = Vec::new();
        let id = q.receive(1, 1000, 0, None, &mut dlq)[0];
        let old = q.msgs[&id].nonce;
        q.receive(1, 1000, 2000, None, &mut dlq);
        assert_eq!(q.delete(id, old), DeleteOutcome::Ignored);
        assert_eq!(q.msgs.len(), 1);
    }

    #[test]
    fn retention_expiry() {
        let mut cfg = QueueConfig::new(false);
        cfg.retention_seconds = 60;
        let mut q = QueueState::new(cfg, 0, true);
        q.insert(msg("a", None, 0, 0));
        q.insert(msg("b", None, 30_000, 0));
        q.changes.clear();
        q.sweep(60_000);
        assert_eq!(q.msgs.len(), 1);
        assert_eq!(q.changes.len(), 1);
        let mut dlq = Vec::new();
        assert!(q.receive(10, 0, 90_000, None, &mut dlq).is_empty());
        assert!(q.msgs.is_empty());
    }

    #[test]
    fn purge_clears() {
        let mut q = QueueState::new(QueueConfig::new(true), 0, false);
        q.insert(msg("a", Some("g"), 0, 0));
        assert_eq!(q.purge(), 1);
        let mut dlq = Vec::new();
        assert!(q.receive(10, 0, 1, None, &mut dlq).is_empty());
        q.insert(msg("b", Some("g"), 0, 0));
        assert_eq!(q.receive(10, 0, 1, None, &mut dlq).len(), 1);
    }
}
