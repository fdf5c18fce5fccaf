//! Where each field of a YAML document is, so errors found after deserializing (lint's
//! semantic rules) and errors serde reports by position (unknown fields, wrong types) can
//! both name a line and a field path such as `spec.strategy.canary.steps[2].setWeight`.
//!
//! Why a separate scan rather than `serde_saphyr::Spanned<T>` on the typed fields: spans
//! would have to wrap every field lint may report on, leak into the public types (so every
//! consumer writes `.value`), and compare unequal after a JSON round trip. One pass over the
//! parser's events gives every path's line, for every field, typed or opaque.

use std::collections::HashMap;

use serde_saphyr::granit_parser::{Event, Parser, ScanError};

/// Paths and positions of one YAML document. Lines are absolute in the file (1-based),
/// columns 1-based, matching serde-saphyr's error locations.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SourceMap {
    /// (line, column, path) of every key, value and sequence item, in document order.
    nodes: Vec<(usize, usize, String)>,
    /// Path to the line of its key (mappings) or item start (sequences).
    lines: HashMap<String, usize>,
    first_line: usize,
}

impl SourceMap {
    /// The line of `path`, or of its nearest ancestor present in the document (a missing
    /// field is reported where its parent is).
    pub fn line_of(&self, path: &str) -> usize {
        let mut p = path;
        loop {
            if let Some(line) = self.lines.get(p) {
                return *line;
            }
            match parent_path(p) {
                Some(parent) => p = parent,
                None => return self.first_line,
            }
        }
    }

    /// True when the document spells out `path`.
    pub fn contains(&self, path: &str) -> bool {
        self.lines.contains_key(path)
    }

    /// The path of the node at or just before (line, column).
    pub fn path_at(&self, line: usize, column: usize) -> Option<&str> {
        let i = self
            .nodes
            .partition_point(|(l, c, _)| (*l, *c) <= (line, column));
        i.checked_sub(1).map(|i| self.nodes[i].2.as_str())
    }
}

/// `a.b[2].c` -> `a.b[2]` -> `a.b` -> `a` -> None.
pub(crate) fn parent_path(path: &str) -> Option<&str> {
    let cut = path.rfind(['.', '['])?;
    Some(&path[..cut])
}

/// One document of a YAML stream: its first line and its source map.
#[derive(Debug)]
pub(crate) struct ScannedDocument {
    pub first_line: usize,
    pub map: SourceMap,
}

enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, next: usize },
}

/// Scans a whole YAML stream (all documents) and maps every node. `ScanError` carries the
/// line of a syntax error.
/// A YAML syntax error as every command words it: its line, and `invalid YAML at column
/// C: what`.
pub(crate) fn syntax_error(e: &ScanError) -> (usize, String) {
    let at = e.marker();
    (
        at.line(),
        format!("invalid YAML at column {}: {}", at.col() + 1, e.info()),
    )
}

pub(crate) fn scan(text: &str) -> Result<Vec<ScannedDocument>, ScanError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut current: Option<ScannedDocument> = None;
    for next in Parser::new_from_str(text) {
        let (event, span) = next?;
        let (line, col) = (span.start.line(), span.start.col() + 1);
        match event {
            Event::DocumentStart(..) => {
                stack.clear();
                current = Some(ScannedDocument {
                    first_line: line,
                    map: SourceMap {
                        first_line: line,
                        ..SourceMap::default()
                    },
                });
            }
            Event::DocumentEnd => docs.extend(current.take()),
            Event::Scalar(value, ..) => {
                if let Some(doc) = current.as_mut() {
                    if let Some(path) =
                        enter_node(&mut stack, &mut doc.map, line, col, Some(&value))
                    {
                        doc.map.nodes.push((line, col, path));
                    }
                }
            }
            Event::Alias(_) => {
                if let Some(doc) = current.as_mut() {
                    if let Some(path) = enter_node(&mut stack, &mut doc.map, line, col, None) {
                        doc.map.nodes.push((line, col, path));
                    }
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(event, Event::MappingStart(..));
                if let Some(doc) = current.as_mut() {
                    // A collection used as a mapping key has no useful path.
                    let path = enter_node(&mut stack, &mut doc.map, line, col, None)
                        .unwrap_or_else(|| "?".to_owned());
                    if !path.is_empty() {
                        doc.map.nodes.push((line, col, path.clone()));
                    }
                    stack.push(if is_map {
                        Frame::Map { path, key: None }
                    } else {
                        Frame::Seq { path, next: 0 }
                    });
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    docs.extend(current.take());
    Ok(docs)
}

/// Called for every node. Returns the node's path when it is a value (or item), `None` when
/// it is a mapping key (whose path is recorded as the key's line).
fn enter_node(
    stack: &mut [Frame],
    map: &mut SourceMap,
    line: usize,
    col: usize,
    scalar: Option<&str>,
) -> Option<String> {
    match stack.last_mut() {
        None => Some(String::new()),
        Some(Frame::Map { path, key }) => match key.take() {
            Some(k) => Some(k),
            None => {
                let name = scalar.unwrap_or("?");
                let child = if path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                map.lines.entry(child.clone()).or_insert(line);
                map.nodes.push((line, col, child.clone()));
                *key = Some(child);
                None
            }
        },
        Some(Frame::Seq { path, next }) => {
            let child = format!("{path}[{next}]");
            *next += 1;
            map.lines.entry(child.clone()).or_insert(line);
            Some(child)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
# comment
a: 1
---
spec:
  steps:
  - setWeight: 20
  - pause: {duration: 10s}
  - pause:
      duration: 1h
";

    #[test]
    fn maps_paths_to_absolute_lines_per_document() {
        let docs = scan(TEXT).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].map.line_of("a"), 2);
        assert_eq!(docs[1].first_line, 3);
        let map = &docs[1].map;
        assert_eq!(map.line_of("spec.steps[0].setWeight"), 6);
        assert_eq!(map.line_of("spec.steps[1].pause.duration"), 7);
        assert_eq!(map.line_of("spec.steps[2].pause.duration"), 9);
        // Missing fields fall back to the nearest ancestor.
        assert_eq!(map.line_of("spec.steps[2].pause.nope"), 8);
        assert!(!map.contains("spec.nope"));
    }

    #[test]
    fn finds_the_path_at_a_position() {
        let docs = scan(TEXT).unwrap();
        let map = &docs[1].map;
        assert_eq!(map.path_at(6, 5), Some("spec.steps[0].setWeight"));
        assert_eq!(map.path_at(9, 17), Some("spec.steps[2].pause.duration"));
        assert_eq!(map.path_at(9, 7), Some("spec.steps[2].pause.duration"));
    }

    #[test]
    fn reports_syntax_errors_with_a_line() {
        let err = scan("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.marker().line() >= 1);
    }
}
