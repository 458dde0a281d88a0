//! The subscription trie: one node per token position, literal children in a hash map and the
//! `*` / `>` children in dedicated slots, subscriptions stored at the node where their subject
//! ends. It owns the subscriptions and their matching; it knows nothing about locking,
//! caching or statistics (see `sublist.rs`).
//!
//! Nodes live in an arena (`Vec<Node>` plus a free list) and refer to each other by index.
//! This keeps every walk iterative, so neither matching, enumeration nor dropping the trie
//! recurses: a subject with thousands of tokens from the network cannot overflow the stack.
//! Architecture invariant: a node that holds no subscription and has no child does not exist
//! (remove prunes it), except the root.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use crate::subject::{tokens, Token};
use crate::MatchResult;

type NodeId = usize;

/// The root node; its children are the first-token level.
const ROOT: NodeId = 0;

/// Above this many queue groups in one result, grouping switches from a linear scan to a
/// hash index, so that a subject with many distinct queue groups stays linear in the fanout.
const QUEUE_SCAN_MAX: usize = 8;

/// Maps use std's randomly keyed SipHash on purpose: tokens come from the network, and a
/// fixed-key fast hash would let a client degrade every lookup with colliding tokens.
struct Node<T> {
    parent: NodeId,
    literals: HashMap<Box<str>, NodeId>,
    pwc: Option<NodeId>,
    fwc: Option<NodeId>,
    plain: HashSet<T>,
    queues: HashMap<Box<str>, HashSet<T>>,
}

impl<T> Node<T> {
    fn new(parent: NodeId) -> Self {
        Node {
            parent,
            literals: HashMap::new(),
            pwc: None,
            fwc: None,
            plain: HashSet::new(),
            queues: HashMap::new(),
        }
    }

    fn has_subs(&self) -> bool {
        !self.plain.is_empty() || !self.queues.is_empty()
    }

    fn is_prunable(&self) -> bool {
        !self.has_subs() && self.literals.is_empty() && self.pwc.is_none() && self.fwc.is_none()
    }

    fn child(&self, token: Token<'_>) -> Option<NodeId> {
        match token {
            Token::Pwc => self.pwc,
            Token::Fwc => self.fwc,
            Token::Literal(t) => self.literals.get(t).copied(),
        }
    }
}

/// The subscription trie. Callers validate subjects and queue names before calling in.
pub(crate) struct Trie<T> {
    nodes: Vec<Node<T>>,
    free: Vec<NodeId>,
    count: usize,
}

impl<T: Clone + Eq + Hash> Trie<T> {
    pub(crate) fn new() -> Self {
        Trie {
            nodes: vec![Node::new(ROOT)],
            free: Vec::new(),
            count: 0,
        }
    }

    /// Number of subscriptions.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    fn alloc(&mut self, parent: NodeId) -> NodeId {
        match self.free.pop() {
            Some(id) => {
                self.nodes[id] = Node::new(parent);
                id
            }
            None => {
                self.nodes.push(Node::new(parent));
                self.nodes.len() - 1
            }
        }
    }

    /// Finds the node for `subject`, if it exists.
    fn find(&self, subject: &str) -> Option<NodeId> {
        let mut node = ROOT;
        for t in tokens(subject) {
            node = self.nodes[node].child(Token::classify(t))?;
        }
        Some(node)
    }

    /// Finds or creates the node for `subject`.
    fn find_or_create(&mut self, subject: &str) -> NodeId {
        let mut node = ROOT;
        for t in tokens(subject) {
            let token = Token::classify(t);
            node = match self.nodes[node].child(token) {
                Some(child) => child,
                None => {
                    let child = self.alloc(node);
                    let parent = &mut self.nodes[node];
                    match token {
                        Token::Pwc => parent.pwc = Some(child),
                        Token::Fwc => parent.fwc = Some(child),
                        Token::Literal(t) => {
                            parent.literals.insert(t.into(), child);
                        }
                    }
                    child
                }
            };
        }
        node
    }

    /// Inserts a subscription. Returns false if the identical subscription was already there
    /// (a no-op).
    pub(crate) fn insert(&mut self, subject: &str, queue: Option<&str>, value: T) -> bool {
        let node = self.find_or_create(subject);
        let n = &mut self.nodes[node];
        let added = match queue {
            None => n.plain.insert(value),
            Some(q) => match n.queues.get_mut(q) {
                Some(group) => group.insert(value),
                None => {
                    n.queues.insert(q.into(), HashSet::from([value]));
                    true
                }
            },
        };
        if added {
            self.count += 1;
        }
        added
    }

    /// Removes a subscription. Returns false if it was not there.
    pub(crate) fn remove(&mut self, subject: &str, queue: Option<&str>, value: &T) -> bool {
        let Some(node) = self.find(subject) else {
            return false;
        };
        let n = &mut self.nodes[node];
        let removed = match queue {
            None => n.plain.remove(value),
            Some(q) => match n.queues.get_mut(q) {
                Some(group) => {
                    let removed = group.remove(value);
                    if group.is_empty() {
                        n.queues.remove(q);
                    }
                    removed
                }
                None => false,
            },
        };
        if removed {
            self.count -= 1;
            self.prune(node, subject);
        }
        removed
    }

    /// Unlinks and frees `node` and then each ancestor that has become empty. `subject` is the
    /// subject whose path ends at `node`; its tokens name each node in its parent.
    fn prune(&mut self, mut node: NodeId, subject: &str) {
        for t in subject.rsplit('.') {
            if node == ROOT || !self.nodes[node].is_prunable() {
                return;
            }
            let parent = self.nodes[node].parent;
            let p = &mut self.nodes[parent];
            match Token::classify(t) {
                Token::Pwc => p.pwc = None,
                Token::Fwc => p.fwc = None,
                Token::Literal(t) => {
                    p.literals.remove(t);
                }
            }
            // Replacing the node releases its (empty) maps' memory.
            self.nodes[node] = Node::new(ROOT);
            self.free.push(node);
            node = parent;
        }
    }

    /// Collects every subscription matching the literal `subject`, which has no empty token.
    pub(crate) fn match_subject(&self, subject: &str) -> MatchResult<T> {
        let mut collector = Collector::new();
        self.walk(subject, |node| {
            collector.add(node);
            false
        });
        collector.result
    }

    /// Is there any subscription matching the literal `subject` (no empty token)?
    pub(crate) fn has_interest(&self, subject: &str) -> bool {
        self.walk(subject, Node::has_subs)
    }

    /// Visits every node whose subscriptions match `subject`, stopping early (and returning
    /// true) as soon as `visit` returns true. A node may be visited even if it holds no
    /// subscription (an intermediate `*` node at the end of the subject).
    ///
    /// The walk keeps a position (byte offset of the next token) instead of a token array,
    /// and an explicit stack for the `*` branches, so it neither allocates in the common case
    /// nor recurses.
    fn walk<'a>(&'a self, subject: &str, mut visit: impl FnMut(&'a Node<T>) -> bool) -> bool {
        let end = subject.len();
        let mut pending: Vec<(NodeId, usize)> = Vec::new();
        let (mut node, mut pos) = (ROOT, 0);
        loop {
            let n = &self.nodes[node];
            if pos > end {
                // All tokens consumed: this node's subscriptions match exactly.
                if visit(n) {
                    return true;
                }
            } else {
                let token_end = subject[pos..].find('.').map_or(end, |i| pos + i);
                if let Some(f) = n.fwc {
                    if visit(&self.nodes[f]) {
                        return true;
                    }
                }
                if let Some(p) = n.pwc {
                    pending.push((p, token_end + 1));
                }
                if let Some(&child) = n.literals.get(&subject[pos..token_end]) {
                    (node, pos) = (child, token_end + 1);
                    continue;
                }
            }
            match pending.pop() {
                Some(next) => (node, pos) = next,
                None => return false,
            }
        }
    }

    /// Every subscription as (subject, queue, value), in no particular order.
    pub(crate) fn all(&self) -> Vec<(String, Option<String>, T)> {
        let mut out = Vec::with_capacity(self.count);
        // Depth-first with an explicit stack of (node, length of its parent's path, token).
        // Every node handled between a node's push and its pop descends from its parent, so
        // the first `parent_len` bytes of `path` are still the parent's path when it pops.
        let mut path = String::new();
        let mut stack: Vec<(NodeId, usize, &str)> = Vec::new();
        self.push_children(ROOT, 0, &mut stack);
        while let Some((node, parent_len, token)) = stack.pop() {
            path.truncate(parent_len);
            if parent_len > 0 {
                path.push('.');
            }
            path.push_str(token);
            let n = &self.nodes[node];
            for v in &n.plain {
                out.push((path.clone(), None, v.clone()));
            }
            for (q, group) in &n.queues {
                for v in group {
                    out.push((path.clone(), Some(q.to_string()), v.clone()));
                }
            }
            self.push_children(node, path.len(), &mut stack);
        }
        out
    }

    fn push_children<'a>(
        &'a self,
        node: NodeId,
        len: usize,
        stack: &mut Vec<(NodeId, usize, &'a str)>,
    ) {
        let n = &self.nodes[node];
        stack.extend(n.literals.iter().map(|(t, &c)| (c, len, &**t)));
        stack.extend(n.pwc.map(|c| (c, len, crate::subject::PWC)));
        stack.extend(n.fwc.map(|c| (c, len, crate::subject::FWC)));
    }

    /// Number of live nodes, root included (for tests of pruning).
    #[cfg(test)]
    fn live_nodes(&self) -> usize {
        self.nodes.len() - self.free.len()
    }
}

/// Accumulates node subscriptions into a result, merging queue groups by name.
struct Collector<'a, T> {
    result: MatchResult<T>,
    /// The trie's name of each group in `result.queues`, same order.
    names: Vec<&'a str>,
    /// Name to index in `result.queues`, built once the groups outgrow a linear scan.
    index: Option<HashMap<&'a str, usize>>,
}

impl<'a, T: Clone + Eq + Hash> Collector<'a, T> {
    fn new() -> Self {
        Collector {
            result: MatchResult::default(),
            names: Vec::new(),
            index: None,
        }
    }

    fn add(&mut self, node: &'a Node<T>) {
        self.result.plain.extend(node.plain.iter().cloned());
        for (name, group) in &node.queues {
            let slot = self.queue_slot(name);
            self.result.queues[slot].1.extend(group.iter().cloned());
        }
    }

    fn queue_slot(&mut self, name: &'a str) -> usize {
        let found = match &self.index {
            Some(index) => index.get(name).copied(),
            None => self.names.iter().position(|&n| n == name),
        };
        if let Some(slot) = found {
            return slot;
        }
        let slot = self.names.len();
        self.names.push(name);
        self.result.queues.push((name.to_string(), Vec::new()));
        match &mut self.index {
            Some(index) => {
                index.insert(name, slot);
            }
            None if self.names.len() > QUEUE_SCAN_MAX => {
                self.index = Some(
                    self.names
                        .iter()
                        .enumerate()
                        .map(|(i, &n)| (n, i))
                        .collect(),
                );
            }
            None => {}
        }
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remove_prunes_every_empty_node() {
        let mut trie = Trie::new();
        assert!(trie.insert("a.b.c", None, 1));
        assert!(trie.insert("a.*.>", Some("q"), 2));
        assert!(trie.insert("a.b", None, 3));
        assert_eq!(trie.live_nodes(), 1 + 5);
        assert!(trie.remove("a.b.c", None, &1));
        assert_eq!(trie.live_nodes(), 1 + 4);
        assert!(trie.remove("a.*.>", Some("q"), &2));
        assert_eq!(trie.live_nodes(), 1 + 2);
        assert!(trie.remove("a.b", None, &3));
        assert_eq!(trie.live_nodes(), 1);
        assert_eq!(trie.count(), 0);
        // Freed slots are reused.
        assert!(trie.insert("x.y", None, 4));
        assert_eq!(trie.nodes.len(), 6);
    }

    #[test]
    fn remove_of_missing_subscription_keeps_the_trie() {
        let mut trie = Trie::new();
        assert!(trie.insert("a.b", Some("q"), 1));
        assert!(!trie.remove("a.b", Some("r"), &1));
        assert!(!trie.remove("a.b", None, &1));
        assert!(!trie.remove("a.b.c", None, &1));
        assert!(!trie.remove("a", None, &1));
        assert_eq!(trie.live_nodes(), 3);
        assert_eq!(trie.count(), 1);
    }

    #[test]
    fn very_deep_subjects_do_not_recurse() {
        // 100k tokens: a recursive walk or drop would overflow a 2 MiB test thread stack.
        let deep = vec!["*"; 100_000].join(".");
        let literal = vec!["t"; 100_000].join(".");
        let mut trie = Trie::new();
        assert!(trie.insert(&deep, None, 1));
        assert!(trie.insert(&literal, Some("q"), 2));
        let r = trie.match_subject(&literal);
        assert_eq!(r.plain, vec![1]);
        assert_eq!(r.queues, vec![("q".to_string(), vec![2])]);
        assert_eq!(trie.all().len(), 2);
        assert!(trie.remove(&deep, None, &1));
        drop(trie);
    }
}
