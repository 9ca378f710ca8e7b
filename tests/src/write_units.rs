//! DynamoDB write units of an operation, counted by DynamoDB's published sizing rules from the
//! requests themselves (recorded by [`crate::calls::CallLog`]) and the table before and after:
//!
//! - an item's size is the sum of its attribute names and values (a string its UTF-8 bytes, a
//!   number about one byte per two significant digits plus one, a boolean or null one byte, a
//!   list or map 3 bytes plus its elements and one byte for each);
//! - a write costs one unit per started KB of the larger of the item before and after (at least
//!   one); in `TransactWriteItems` every item costs twice, condition checks included;
//! - a write whose condition fails is still charged (the item it would have written, or the one
//!   it found);
//! - each global secondary index an item change reaches costs a write of the index entry (its
//!   projected attributes, the index and table keys, and 100 bytes): an entry added or removed is
//!   one write, a moved key a delete and a put, an entry whose projected attributes changed an
//!   update; an index of keys only is not written when only other attributes change.
//!
//! An item updated twice within one measured operation is sized by its final image. With
//! `WRITE_UNITS_DETAIL` set, each write is printed with its size and units.

use crate::calls::{Calls, Item, WriteKind};
use aws_sdk_dynamodb::types::{AttributeValue, ProjectionType};
use aws_sdk_dynamodb::Client;
use std::collections::{HashMap, HashSet};

type Key = (String, String);

/// What one index projects.
#[derive(Debug, Clone)]
struct IndexSpec {
    pk: String,
    sk: String,
    /// `None`: every attribute; `Some`: these non-key attributes only (none for keys only).
    projected: Option<HashSet<String>>,
}

/// Write units, split by where they go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Units {
    /// The table's items (transactional writes counted twice).
    pub table: u64,
    /// The index entries those writes changed.
    pub index: u64,
    /// Of `table`: writes that failed their condition.
    pub failed: u64,
}

impl Units {
    pub fn total(&self) -> u64 {
        self.table + self.index
    }
}

impl std::ops::AddAssign for Units {
    fn add_assign(&mut self, o: Units) {
        self.table += o.table;
        self.index += o.index;
        self.failed += o.failed;
    }
}

/// Counts the write units of what happens to one table between two looks.
pub struct WriteMeter {
    client: Client,
    table: String,
    indexes: Vec<IndexSpec>,
    seen: HashMap<Key, Item>,
    /// Every unit measured so far, by the partition key it went to: a table item's `pk`, or an
    /// index entry's index key (`<index key attribute>=<value>`).
    by_partition: HashMap<String, u64>,
}

/// The size of one value, by DynamoDB's sizing rules.
pub fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value_size(e)).sum::<usize>(),
        AttributeValue::M(m) => 3 + m.iter().map(|(k, e)| 1 + k.len() + value_size(e)).sum::<usize>(),
        AttributeValue::Ss(ss) => ss.iter().map(String::len).sum(),
        AttributeValue::Ns(ns) => ns.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(bs) => bs.iter().map(|b| b.as_ref().len()).sum(),
        _ => 0,
    }
}

/// One byte per two significant digits, plus one.
fn number_size(n: &str) -> usize {
    let n = n.trim_start_matches('-');
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let int = int.trim_start_matches('0');
    // Trailing zeros are trimmed: of the fraction if there is one, else of the integer.
    let significant =
        if frac.is_empty() { int.trim_end_matches('0').len() } else { int.len() + frac.trim_end_matches('0').len() };
    significant.max(1).div_ceil(2) + 1
}

/// An item's size: its attribute names and values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

/// Units of a write of `bytes`: one per started KB, at least one.
fn units(bytes: usize) -> u64 {
    (bytes.div_ceil(1024) as u64).max(1)
}

impl WriteMeter {
    /// A meter on `table`, reading its indexes' projections from the table's description and
    /// the table as it is now.
    pub async fn new(client: Client, table: &str) -> WriteMeter {
        let out = client.describe_table().table_name(table).send().await.expect("describe the table");
        let desc = out.table.expect("a table description");
        let indexes = desc
            .global_secondary_indexes()
            .iter()
            .map(|g| {
                let key = |t: &str| {
                    g.key_schema()
                        .iter()
                        .find(|k| k.key_type().as_str() == t)
                        .map(|k| k.attribute_name().to_string())
                        .unwrap_or_default()
                };
                let p = g.projection();
                let projected = match p.and_then(|p| p.projection_type()) {
                    Some(ProjectionType::All) | None => None,
                    Some(ProjectionType::KeysOnly) => Some(HashSet::new()),
                    Some(_) => Some(p.map(|p| p.non_key_attributes().iter().cloned().collect()).unwrap_or_default()),
                };
                IndexSpec { pk: key("HASH"), sk: key("RANGE"), projected }
            })
            .collect();
        let mut m = WriteMeter {
            client,
            table: table.to_string(),
            indexes,
            seen: HashMap::new(),
            by_partition: HashMap::new(),
        };
        m.seen = m.snapshot().await;
        m
    }

    async fn snapshot(&self) -> HashMap<Key, Item> {
        let mut items = HashMap::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .expect("scan the table");
            for it in out.items.unwrap_or_default() {
                let get = |k: &str| it.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                items.insert((get("pk"), get("sk")), it);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return items,
            }
        }
    }

    /// The size of `item`'s entry in `index`, if the item is in it.
    fn entry_size(&self, index: &IndexSpec, item: &Item) -> Option<usize> {
        if !item.contains_key(&index.pk) || !item.contains_key(&index.sk) {
            return None;
        }
        let size = match &index.projected {
            None => item_size(item),
            Some(extra) => item
                .iter()
                .filter(|(k, _)| {
                    let k = k.as_str();
                    k == "pk" || k == "sk" || k == index.pk || k == index.sk || extra.contains(k)
                })
                .map(|(k, v)| k.len() + value_size(v))
                .sum(),
        };
        Some(size + 100)
    }

    /// The index writes an item change from `old` to `new` causes, by index partition key.
    fn index_units(&self, old: Option<&Item>, new: Option<&Item>) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for index in &self.indexes {
            let partition = |item: &Item| {
                format!("{}={}", index.pk, item.get(&index.pk).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default())
            };
            let before = old.and_then(|o| self.entry_size(index, o).map(|s| (o, s)));
            let after = new.and_then(|n| self.entry_size(index, n).map(|s| (n, s)));
            match (before, after) {
                (None, None) => {}
                (Some((o, s)), None) => out.push((partition(o), units(s))),
                (None, Some((n, s))) => out.push((partition(n), units(s))),
                (Some((o, so)), Some((n, sn))) => {
                    let moved = o.get(&index.pk) != n.get(&index.pk) || o.get(&index.sk) != n.get(&index.sk);
                    let projected_changed = match &index.projected {
                        None => o != n,
                        Some(extra) => extra.iter().any(|a| o.get(a) != n.get(a)),
                    };
                    if moved {
                        out.push((partition(o), units(so)));
                        out.push((partition(n), units(sn)));
                    } else if projected_changed {
                        out.push((partition(n), units(sn)));
                    }
                }
            }
        }
        out
    }

    /// Every unit measured so far, by the partition key it went to (a table item's `pk`, or
    /// `<index key attribute>=<value>` for an index entry).
    pub fn by_partition(&self) -> &HashMap<String, u64> {
        &self.by_partition
    }

    /// The units of the writes among `calls`, made since the last look at the table; then looks
    /// again.
    pub async fn measure(&mut self, calls: &Calls) -> Units {
        let after = self.snapshot().await;
        let mut current = std::mem::take(&mut self.seen);
        let mut writes: Vec<_> = calls.0.iter().filter_map(|c| c.write.as_ref().map(|w| (c.start, w))).collect();
        writes.sort_by_key(|(start, _)| *start);
        let mut u = Units::default();
        for (_, w) in writes {
            let times = if w.transactional { 2 } else { 1 };
            for a in &w.actions {
                let old = current.get(&a.key).cloned();
                let old_size = old.as_ref().map(item_size).unwrap_or(0);
                if !w.succeeded {
                    let size = match &a.kind {
                        WriteKind::Put(item) => item_size(item).max(old_size),
                        _ => old_size,
                    };
                    u.table += units(size) * times;
                    u.failed += units(size) * times;
                    *self.by_partition.entry(a.key.0.clone()).or_default() += units(size) * times;
                    continue;
                }
                let new = match &a.kind {
                    WriteKind::Put(item) => Some(item.clone()),
                    WriteKind::Update => after.get(&a.key).cloned(),
                    WriteKind::Delete => None,
                    WriteKind::Check => old.clone(),
                };
                let new_size = new.as_ref().map(item_size).unwrap_or(0);
                u.table += units(old_size.max(new_size)) * times;
                *self.by_partition.entry(a.key.0.clone()).or_default() += units(old_size.max(new_size)) * times;
                let entries = if matches!(a.kind, WriteKind::Check) {
                    vec![]
                } else {
                    self.index_units(old.as_ref(), new.as_ref())
                };
                let index: u64 = entries.iter().map(|(_, u)| u).sum();
                for (partition, n) in entries {
                    *self.by_partition.entry(partition).or_default() += n;
                }
                if std::env::var_os("WRITE_UNITS_DETAIL").is_some() {
                    let kind = match &a.kind {
                        WriteKind::Put(_) => "put",
                        WriteKind::Update => "update",
                        WriteKind::Delete => "delete",
                        WriteKind::Check => "check",
                    };
                    println!(
                        "  {kind} {} {} | {} bytes | table {} | indexes {index}",
                        a.key.0,
                        a.key.1,
                        old_size.max(new_size),
                        units(old_size.max(new_size)) * times
                    );
                }
                if matches!(a.kind, WriteKind::Check) {
                    continue;
                }
                u.index += index;
                match new {
                    Some(n) => current.insert(a.key.clone(), n),
                    None => current.remove(&a.key),
                };
            }
        }
        self.seen = after;
        u
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.into())
    }

    #[test]
    fn sizes_follow_the_published_rules() {
        // "pk" (2) + "HANDOFF#1" (9), "n" (1) + 123456 (3 digit pairs + 1), "ok" (2) + bool (1).
        let item: Item = [
            ("pk".to_string(), s("HANDOFF#1")),
            ("n".to_string(), AttributeValue::N("123456".into())),
            ("ok".to_string(), AttributeValue::Bool(true)),
        ]
        .into_iter()
        .collect();
        assert_eq!(item_size(&item), 11 + 5 + 3);
        assert_eq!(number_size("0.50"), 2, "one significant digit");
        assert_eq!(number_size("-1200"), 2, "trailing zeros of an integer trimmed");
        assert_eq!(value_size(&AttributeValue::L(vec![s("ab"), s("c")])), 3 + 3 + 2);
        assert_eq!(units(0), 1);
        assert_eq!(units(1024), 1);
        assert_eq!(units(1025), 2);
    }
}
