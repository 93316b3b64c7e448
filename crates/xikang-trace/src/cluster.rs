//! Clusters (聚集性疫情): cases linked by shared exposures, as graphs with the evidence on
//! every edge, and a Graphviz DOT writer.
//!
//! Two cases are linked when one is a close contact of the other (any rule), or when both
//! were at the same venue at the same time, each inside their own exposure window. Linked
//! cases are grouped with union-find; a cluster has at least two cases.

use crate::contact::{CloseContacts, ContactRule};
use crate::presence::overlap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use xikang_domain::{CaseId, Timestamp, VenueId};

/// What links two cases.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// `to` is a close contact of `from`, by this rule.
    Contact {
        rule: ContactRule,
        venue: Option<VenueId>,
        first: Timestamp,
        last: Timestamp,
        overlap_secs: i64,
    },
    /// Both were at this venue at once, each inside their exposure window.
    SharedVenue {
        venue: VenueId,
        first: Timestamp,
        last: Timestamp,
        overlap_secs: i64,
    },
}

/// One edge of a cluster graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEdge {
    pub from: CaseId,
    pub to: CaseId,
    pub link: Link,
}

/// A cluster: its cases, the venues on its edges, and the edges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// Sorted.
    pub cases: Vec<CaseId>,
    /// Sorted.
    pub venues: Vec<VenueId>,
    pub edges: Vec<ClusterEdge>,
}

fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Links traced cases into clusters. Each case comes with its close contacts (which also
/// carry its presence inside its window). Clusters are sorted by their smallest case id.
pub fn clusters(cases: &[(CaseId, &CloseContacts)]) -> Vec<Cluster> {
    let mut edges: Vec<(usize, usize, Link)> = Vec::new();
    let mut by_person: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, (_, c)) in cases.iter().enumerate() {
        by_person.entry(c.case.0).or_default().push(i);
    }
    for (i, (_, c)) in cases.iter().enumerate() {
        for contact in &c.contacts {
            let Some(others) = by_person.get(&contact.person.0) else {
                continue;
            };
            for &j in others {
                for e in &contact.evidence {
                    edges.push((
                        i,
                        j,
                        Link::Contact {
                            rule: e.rule,
                            venue: e.venue,
                            first: e.first,
                            last: e.last,
                            overlap_secs: e.overlap_secs,
                        },
                    ));
                }
            }
        }
    }
    // Venue → (case index, the case's presence there as (start, end) seconds).
    type Presence = Vec<(usize, Vec<(i64, i64)>)>;
    let mut at_venue: BTreeMap<VenueId, Presence> = BTreeMap::new();
    for (i, (_, c)) in cases.iter().enumerate() {
        for (v, ivs) in &c.case_presence {
            let ivs = ivs.iter().map(|iv| (iv.start.0, iv.end.0)).collect();
            at_venue.entry(*v).or_default().push((i, ivs));
        }
    }
    for (venue, present) in &at_venue {
        for (x, (i, a)) in present.iter().enumerate() {
            for (j, b) in &present[x + 1..] {
                let o = overlap(a, b);
                if o.secs > 0 && cases[*i].1.case != cases[*j].1.case {
                    edges.push((
                        *i,
                        *j,
                        Link::SharedVenue {
                            venue: *venue,
                            first: Timestamp(o.first),
                            last: Timestamp(o.last),
                            overlap_secs: o.secs,
                        },
                    ));
                }
            }
        }
    }
    let mut parent: Vec<usize> = (0..cases.len()).collect();
    for (i, j, _) in &edges {
        let (a, b) = (find(&mut parent, *i), find(&mut parent, *j));
        if a != b {
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut groups: BTreeMap<usize, Cluster> = BTreeMap::new();
    for (i, case) in cases.iter().enumerate() {
        let root = find(&mut parent, i);
        groups
            .entry(root)
            .or_insert_with(|| Cluster {
                cases: Vec::new(),
                venues: Vec::new(),
                edges: Vec::new(),
            })
            .cases
            .push(case.0);
    }
    for (i, j, link) in edges {
        let root = find(&mut parent, i);
        if let Some(g) = groups.get_mut(&root) {
            g.edges.push(ClusterEdge {
                from: cases[i].0,
                to: cases[j].0,
                link,
            });
        }
    }
    let mut out: Vec<Cluster> = groups
        .into_values()
        .filter(|g| g.cases.len() >= 2)
        .map(|mut g| {
            g.cases.sort_unstable();
            g.cases.dedup();
            let venues: BTreeSet<VenueId> = g
                .edges
                .iter()
                .filter_map(|e| match e.link {
                    Link::Contact { venue, .. } => venue,
                    Link::SharedVenue { venue, .. } => Some(venue),
                })
                .collect();
            g.venues = venues.into_iter().collect();
            g
        })
        .collect();
    out.retain(|g| g.cases.len() >= 2);
    out.sort_by_key(|g| g.cases[0]);
    out
}

/// The cluster as a Graphviz DOT digraph: cases as boxes, venues as ellipses, contact edges
/// from case to contact labelled with the rule (and venue and minutes), shared-venue edges
/// dashed from each case to the venue. Only opaque ids appear: no personal data.
pub fn to_dot(cluster: &Cluster) -> String {
    let mut s =
        String::from("digraph cluster {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
    for c in &cluster.cases {
        let _ = writeln!(s, "  \"{c}\" [shape=box];");
    }
    for v in &cluster.venues {
        let _ = writeln!(s, "  \"{v}\" [shape=ellipse];");
    }
    let mut venue_edges: BTreeSet<(CaseId, VenueId, i64)> = BTreeSet::new();
    for e in &cluster.edges {
        match &e.link {
            Link::Contact {
                rule,
                venue,
                overlap_secs,
                ..
            } => {
                let label = match venue {
                    Some(v) if *rule == ContactRule::Venue => {
                        format!("{} {v} {} min", rule.as_str(), overlap_secs / 60)
                    }
                    Some(v) => format!("{} {v}", rule.as_str()),
                    None => rule.as_str().to_owned(),
                };
                let _ = writeln!(s, "  \"{}\" -> \"{}\" [label=\"{label}\"];", e.from, e.to);
            }
            Link::SharedVenue {
                venue,
                overlap_secs,
                ..
            } => {
                venue_edges.insert((e.from, *venue, *overlap_secs));
                venue_edges.insert((e.to, *venue, *overlap_secs));
            }
        }
    }
    let mut drawn: BTreeSet<(CaseId, VenueId)> = BTreeSet::new();
    for (c, v, _) in venue_edges {
        if drawn.insert((c, v)) {
            let _ = writeln!(s, "  \"{c}\" -> \"{v}\" [dir=none, style=dashed];");
        }
    }
    s.push_str("}\n");
    s
}
